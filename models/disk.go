package models

import "fmt"

// DiskSpace is the free space of the file system holding the embedded store's
// files, and the minimum below which the server says it is low (MIN_FREE_DISK).
type DiskSpace struct {
	FreeBytes    uint64 `json:"free_bytes" validate:"required" example:"53687091200"`
	MinFreeBytes uint64 `json:"min_free_bytes" validate:"required" example:"1073741824"`
}

// LowDiskError means the file system holding the embedded store's files has less
// free space than the minimum: writes fail once it is full.
type LowDiskError struct {
	Free, Min uint64
}

func (e *LowDiskError) Error() string {
	return fmt.Sprintf("DATA_DIR's disk has %d bytes free, under MIN_FREE_DISK (%d bytes)", e.Free, e.Min)
}
