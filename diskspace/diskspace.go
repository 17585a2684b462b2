// Package diskspace watches the free space of the file system that holds the
// embedded store's files: when it runs out, every write fails, and with it every
// request, since each is audited. A Watch tells /readyz when free space is below
// the minimum set (MIN_FREE_DISK), and warns in the log while it is, so that
// someone hears of it before the disk is full.
package diskspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clinic/interactions/models"
)

// Watch checks the free space of the file system holding Dir against Min.
type Watch struct {
	// Dir is the directory whose file system is watched (DATA_DIR).
	Dir string
	// Min is the free space, in bytes, below which space is low; 0 never is.
	Min uint64
	// Free reads the free space of the file system holding a directory: Free,
	// or a reader a test sets.
	Free func(dir string) (uint64, error)
}

// Check returns the free space and the minimum. It returns a *models.LowDiskError
// when free space is below the minimum, and an error wrapping models.ErrUnavailable
// when the free space cannot be read.
func (w Watch) Check() (models.DiskSpace, error) {
	free, err := w.Free(w.Dir)
	if err != nil {
		return models.DiskSpace{}, fmt.Errorf("read the free space of DATA_DIR: %w: %w", models.ErrUnavailable, err)
	}
	if free < w.Min {
		return models.DiskSpace{}, &models.LowDiskError{Free: free, Min: w.Min}
	}
	return models.DiskSpace{FreeBytes: free, MinFreeBytes: w.Min}, nil
}

// The messages Warn logs.
const (
	lowMessage        = "DATA_DIR's disk has less free space than MIN_FREE_DISK: writes, and every request, fail once it is full; free some space"
	enoughMessage     = "DATA_DIR's disk has MIN_FREE_DISK free again"
	unreadableMessage = "the free space of DATA_DIR's disk cannot be read"
)

// Warn checks the free space now and at every tick until ctx ends, and logs a
// warning each time it is low (the directory and the figures alone), a line when it
// is enough again, and a warning when it cannot be read.
func (w Watch) Warn(ctx context.Context, logger *slog.Logger, ticks <-chan time.Time) {
	low := false
	for {
		_, err := w.Check()
		var short *models.LowDiskError
		switch {
		case err == nil:
			if low {
				logger.Info(enoughMessage, "data_dir", w.Dir, "min_free_bytes", w.Min)
			}
			low = false
		case errors.As(err, &short):
			logger.Warn(lowMessage, "data_dir", w.Dir, "free_bytes", short.Free, "min_free_bytes", short.Min)
			low = true
		default:
			logger.Warn(unreadableMessage, "data_dir", w.Dir, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}
