package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// An embedded store is marked as the store over its DATA_DIR: whoever starts it
// writes a new random token to a file in DATA_DIR that only its owner can read, and
// the same token into the store. A command that attaches to a store already
// listening (on DATA_DIR's socket, or on EMBEDDED_MONGO_ADDR) compares the two
// before it reads or writes anything, so that it never works on a store that is not
// its DATA_DIR's: another checkout's server, or a program that took the port.
const (
	// MarkerFile is the marker's file name in DATA_DIR.
	MarkerFile = "embedded-store.token"
	// MarkerDatabase and markerCollection hold the store's copy of the token, in a
	// database of the service's own, apart from MONGODB_DATABASE.
	MarkerDatabase   = "interactions_embedded"
	markerCollection = "marker"
	markerID         = "token"
)

// mark gives the store behind client, started over dir, a new token, and writes the
// same token to dir's marker file, with mode 0600. It returns an error when either
// cannot be written.
func mark(ctx context.Context, client *mongo.Client, dir string) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("store marker: %w", err)
	}
	token := hex.EncodeToString(raw)
	_, err := client.Database(MarkerDatabase).Collection(markerCollection).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: markerID}},
		bson.D{{Key: "_id", Value: markerID}, {Key: "token", Value: token}},
		options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store marker: write it into the store: %w", err)
	}
	// Written whole under another name, then renamed over the old marker: a reader
	// never sees half a token, and the file has the mode of a new one.
	f, err := os.CreateTemp(dir, MarkerFile+".*")
	if err != nil {
		return fmt.Errorf("store marker: %w", err)
	}
	defer os.Remove(f.Name()) // fails once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("store marker: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("store marker: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store marker: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store marker: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, MarkerFile)); err != nil {
		return fmt.Errorf("store marker: %w", err)
	}
	return nil
}

// checkMarker returns nil when the store behind client holds the token of the
// marker file in cfg.DataDir, and otherwise an error saying why the store cannot be
// used: the file is missing or unreadable, or the tokens differ.
func checkMarker(ctx context.Context, client *mongo.Client, cfg Config) error {
	place := embeddedPlace(cfg)
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, MarkerFile))
	if err != nil {
		return fmt.Errorf("an embedded store answers on %s, but it cannot be checked to be the store over DATA_DIR %s, "+
			"as that directory's store marker cannot be read (%w): run this command with the DATA_DIR of the server that listens there",
			place, cfg.DataDir, err)
	}
	want := strings.TrimSpace(string(data))
	var stored struct {
		Token string `bson:"token"`
	}
	err = client.Database(MarkerDatabase).Collection(markerCollection).
		FindOne(ctx, bson.D{{Key: "_id", Value: markerID}}).Decode(&stored)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read the marker of the embedded store on %s: %w", place, err)
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(stored.Token), []byte(want)) != 1 {
		return fmt.Errorf("the embedded store that answers on %s is not the store over DATA_DIR %s (its marker differs): "+
			"run this command with the DATA_DIR of the server that listens there, and its EMBEDDED_MONGO_ADDR",
			place, cfg.DataDir)
	}
	return nil
}
