//go:build !unix

package diskspace

import "errors"

// Free returns errors.ErrUnsupported: this system has no statfs.
func Free(string) (uint64, error) { return 0, errors.ErrUnsupported }
