//go:build unix

package app

import (
	"sync"
	"syscall"
)

// umaskMu serializes the changes of the process's file mode creation mask, which
// is one for every goroutine of the process.
var umaskMu sync.Mutex

// withOwnerOnlyFiles runs create with the process's umask at 077, so that the files
// it creates, a Unix socket among them, are its owner's alone from the moment they
// exist, then restores the umask. Files other goroutines create meanwhile are made
// owner-only too: a mode stricter than asked, never looser.
func withOwnerOnlyFiles(create func() error) error {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return create()
}
