package repository

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/clinic/interactions/models"
)

// namespaceExists reports whether err says a collection exists already.
func namespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48 // NamespaceExists
}

// storeError maps driver errors to the errors of models, keeping the original wrapped.
func storeError(err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return models.ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %w", models.ErrConflict, err)
	case unreachable(err):
		return fmt.Errorf("%w: %w", models.ErrUnavailable, err)
	}
	// The store's own messages may quote document values: keep only the codes.
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return fmt.Errorf("store command error %d (%s)", ce.Code, ce.Name)
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		return fmt.Errorf("store write error, codes %v", codes(we.WriteErrors, func(e mongo.WriteError) int { return e.Code }))
	}
	var be mongo.BulkWriteException
	if errors.As(err, &be) {
		return fmt.Errorf("store bulk write error, codes %v", codes(be.WriteErrors, func(e mongo.BulkWriteError) int { return e.Code }))
	}
	return err
}

// codes returns the code of each of errs, as code reads it.
func codes[E any](errs []E, code func(E) int) []int {
	out := make([]int, 0, len(errs))
	for _, e := range errs {
		out = append(out, code(e))
	}
	return out
}

// unreachable reports whether err says that the store did not answer in time or
// could not be reached, however the driver says it: a timeout (mongo.IsTimeout), a
// network error (mongo.IsNetworkError), no server selected (topology's
// ServerSelectionError, whichever error it wraps), a connection that could not be
// opened or waited for, a pool cleared because another operation lost its
// connection, a closed server, topology or client, or a context that ended
// first. (The topology package is the driver's own, outside its stable API; the
// checks of mongo and context catch the same errors through what they wrap.)
func unreachable(err error) bool {
	var (
		selection topology.ServerSelectionError
		conn      topology.ConnectionError
		queue     topology.WaitQueueTimeoutError
		// The error of an operation waiting for a connection when another one
		// found the store gone ("connection pool ... was cleared"): it wraps
		// nothing, and says only that it may be retried.
		cleared driver.RetryablePoolError
	)
	return mongo.IsTimeout(err) || mongo.IsNetworkError(err) ||
		errors.As(err, &selection) || errors.As(err, &conn) || errors.As(err, &queue) ||
		errors.As(err, &cleared) && cleared.Retryable() ||
		errors.Is(err, topology.ErrServerClosed) || errors.Is(err, topology.ErrTopologyClosed) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
