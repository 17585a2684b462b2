package repository_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startStore starts an embedded store on addr over dir; the returned func stops it.
func startStore(t *testing.T, addr, dir string) func() {
	t.Helper()
	conn, err := app.Connect(context.Background(), app.Config{Database: "clinic", DataDir: dir, EmbeddedAddr: addr},
		slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{})
	if err != nil {
		t.Fatalf("start store: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = conn.Close(context.Background())
		}
	}
	t.Cleanup(stop)
	return stop
}

// client connects to addr without waiting, with a short server selection timeout;
// known, when given, is set once the driver has seen the store answer.
func client(t *testing.T, addr string, known *atomic.Bool) *mongo.Client {
	t.Helper()
	opts := options.Client().ApplyURI("mongodb://" + addr + "/").
		SetServerSelectionTimeout(300 * time.Millisecond).SetConnectTimeout(300 * time.Millisecond)
	if known != nil {
		opts.SetServerMonitor(&event.ServerMonitor{ServerDescriptionChanged: func(e *event.ServerDescriptionChangedEvent) {
			if e.NewDescription.Kind != "Unknown" {
				known.Store(true)
			}
		}})
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// read reads a patient, as a request does, within a deadline well past the
// client's server selection timeout.
func read(c *mongo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := repository.New(c.Database("clinic")).Patient(ctx, "P1")
	return err
}

// TestUnreachableStoreIsUnavailable checks that every way the driver reports a
// store it cannot reach maps to models.ErrUnavailable (a 503), never to an
// unexpected error (a 500).
func TestUnreachableStoreIsUnavailable(t *testing.T) {
	check := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, models.ErrUnavailable) {
			t.Errorf("error %q (%T) is not models.ErrUnavailable", err, errors.Unwrap(err))
		}
	}

	// The store waits a few seconds for its clients to go when it stops: the
	// cases run side by side.
	t.Run("nothing listens: server selection times out", func(t *testing.T) {
		t.Parallel()
		check(t, read(client(t, freeAddr(t), nil)))
	})

	t.Run("the caller gives up during server selection", func(t *testing.T) {
		t.Parallel()
		c := client(t, freeAddr(t), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := repository.New(c.Database("clinic")).Patient(ctx, "P1")
		check(t, err)
	})

	t.Run("the store stops with a connection in the pool", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		stop := startStore(t, addr, t.TempDir())
		c := client(t, addr, nil)
		if err := read(c); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("read while the store runs: %v", err)
		}
		stop()
		check(t, read(c))
		check(t, read(c)) // then the driver knows the store is down
	})

	t.Run("the store stops before a connection is opened", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		stop := startStore(t, addr, t.TempDir())
		var known atomic.Bool
		c := client(t, addr, &known)
		deadline := time.Now().Add(10 * time.Second)
		for !known.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		check(t, read(c))
	})

	t.Run("the client is disconnected", func(t *testing.T) {
		t.Parallel()
		c := client(t, freeAddr(t), nil)
		if err := c.Disconnect(context.Background()); err != nil {
			t.Fatal(err)
		}
		check(t, read(c))
	})
}
