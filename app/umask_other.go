//go:build !unix

package app

// withOwnerOnlyFiles runs create: this system has no umask.
func withOwnerOnlyFiles(create func() error) error { return create() }
