//go:build unix

package diskspace

import (
	"fmt"
	"syscall"
)

// Free returns the bytes of the file system holding dir that a process without
// privileges may still write (statfs: the blocks available times their size). It
// returns statfs's error, for a directory that does not exist for one.
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
