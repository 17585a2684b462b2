package models

import (
	"fmt"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The caps on what one record may hold beyond its size as stored (MaxDocumentBytes).
// A record's cost is not only its bytes: the embedded store encodes and decodes an
// object in time that grows with the square of its keys (an interaction whose
// metrics held 80,000 keys, a 0.9 MB body, took longer than REQUEST_TIMEOUT to
// store), and every metric becomes a series to chart. The caps are far above any
// real record's: the original project's dataset, the Synthea sample and the
// generator's patients hold at most 6 metrics, 20 keys in an object, 20 elements in
// an array, 220 keys and elements in all and 28 characters in a metric's text.
const (
	// MaxMetrics is the most keys an interaction's metrics may hold.
	MaxMetrics = 64
	// MaxObjectKeys is the most keys any other object may hold, the record itself
	// included.
	MaxObjectKeys = 256
	// MaxArrayLength is the most elements an array may hold.
	MaxArrayLength = 1000
	// MaxElements is the most keys and array elements a record may hold in all, at
	// any depth.
	MaxElements = 4096
	// MaxMetricText is the most characters of a metric's name, and of any key or
	// string within metrics: they are the names and values of charts.
	MaxMetricText = 256
)

// maxLimitFields bounds the places a LimitError names, so that the answer to a
// record past the caps everywhere stays small.
const maxLimitFields = 10

// LimitError reports a record past one of the caps on what it may hold: Fields maps
// each place past one (a dotted path; "" for the record as a whole) to the cap it
// passes. It is a kind of *ValidationError (see Unwrap): a record past a cap is
// invalid input too, and the importers skip it as such.
type LimitError struct {
	Fields map[string]string
}

// Error lists the places past a cap and the caps.
func (e *LimitError) Error() string { return "document past a limit: " + e.validation().Summary() }

// Unwrap returns the error as a *ValidationError.
func (e *LimitError) Unwrap() error { return e.validation() }

func (e *LimitError) validation() *ValidationError { return &ValidationError{Fields: e.Fields} }

// CheckInteractionLimits returns a *LimitError when doc, an interaction as a client
// sends it or a merge patch of one, is past a cap: MaxMetrics keys in metrics,
// MaxMetricText characters in a metric's name or in a key or string within
// metrics, MaxObjectKeys in any other object, MaxArrayLength elements in an array,
// MaxElements keys and elements in all.
func CheckInteractionLimits(doc bson.D) error { return checkLimits(doc, "metrics") }

// CheckPatientLimits returns a *LimitError when doc, a patient as a client sends it
// or a merge patch of one, is past a cap: MaxObjectKeys in an object,
// MaxArrayLength elements in an array, MaxElements keys and elements in all.
func CheckPatientLimits(doc bson.D) error { return checkLimits(doc, "") }

// checkLimits walks doc, whose top-level field metrics (none when "") holds
// metrics, once, and stops at the first maxLimitFields places past a cap or at the
// total cap: its cost is bounded by the caps, not by doc.
func checkLimits(doc bson.D, metrics string) error {
	w := limitWalk{metrics: metrics}
	w.object(doc, MaxObjectKeys, false)
	if len(w.errs) == 0 {
		return nil
	}
	return &LimitError{Fields: w.errs}
}

// limitWalk counts the keys and elements of a document as it walks it, and notes
// the places past a cap.
type limitWalk struct {
	metrics  string
	elements int
	errs     map[string]string
	// at is where the walk is, from the record down. It is spelled as a path only
	// for a place past a cap: every record is walked as it is stored (a seed walks
	// tens of thousands), and almost none has such a place.
	at []step
}

// step is one step of a walk into a record: into the field key, or, when index is
// not negative, into the element index of an array.
type step struct {
	key   string
	index int
}

// path returns the place the walk is at: a dotted path, with array elements as
// [index], "" for the record itself.
func (w *limitWalk) path() string {
	path := ""
	for _, s := range w.at {
		if s.index < 0 {
			path = joinPath(path, s.key)
		} else {
			path = fmt.Sprintf("%s[%d]", path, s.index)
		}
	}
	return path
}

// atRecord reports whether the walk's path is "", as it is at the record itself.
func (w *limitWalk) atRecord() bool {
	for _, s := range w.at {
		if s.index >= 0 || s.key != "" {
			return false
		}
	}
	return true
}

// done reports whether the walk has found enough to stop.
func (w *limitWalk) done() bool { return len(w.errs) >= maxLimitFields || w.elements > MaxElements }

// note records that the place path is past a cap, unless the walk has noted enough.
func (w *limitWalk) note(path, message string) {
	if w.errs == nil {
		w.errs = map[string]string{}
	}
	if _, ok := w.errs[path]; !ok && len(w.errs) < maxLimitFields {
		w.errs[path] = message
	}
}

// count counts n more keys or elements, and reports false once the record holds
// more than MaxElements in all.
func (w *limitWalk) count(n int) bool {
	w.elements += n
	if w.elements > MaxElements {
		w.note("", fmt.Sprintf("holds more than %d keys and array elements in all, the cap for a record", MaxElements))
		return false
	}
	return true
}

// enter counts the n keys or elements (unit) of the container the walk is at, which
// may hold max of them in place ("metrics", "an object", "an array"), and reports
// whether to walk into it: not when it, or the record, is past a cap.
func (w *limitWalk) enter(n, max int, unit, place string) bool {
	if n > max {
		w.note(w.path(), fmt.Sprintf("holds %d %s; the cap is %d %s in %s", n, unit, max, unit, place))
		return false
	}
	return w.count(n)
}

// object walks d, the object the walk is at, which may hold maxKeys keys; inMetrics
// says whether it is metrics or within it.
func (w *limitWalk) object(d bson.D, maxKeys int, inMetrics bool) {
	place := "an object"
	if maxKeys == MaxMetrics {
		place = "metrics"
	}
	if !w.enter(len(d), maxKeys, "keys", place) {
		return
	}
	atRecord := w.atRecord()
	for _, e := range d {
		if w.done() {
			return
		}
		if inMetrics && utf8.RuneCountInString(e.Key) > MaxMetricText {
			w.note(w.path(), fmt.Sprintf("has a key of %d characters; the cap is %d characters for a metric's name or text",
				utf8.RuneCountInString(e.Key), MaxMetricText))
			continue
		}
		w.at = append(w.at, step{key: e.Key, index: -1})
		if m, ok := e.Value.(bson.D); ok && atRecord && e.Key == w.metrics && w.metrics != "" {
			w.object(m, MaxMetrics, true)
		} else {
			w.value(e.Value, inMetrics)
		}
		w.at = w.at[:len(w.at)-1]
	}
}

// value walks v, the value the walk is at.
func (w *limitWalk) value(v any, inMetrics bool) {
	switch t := v.(type) {
	case bson.D:
		w.object(t, MaxObjectKeys, inMetrics)
	case bson.A:
		walkArray(w, t, inMetrics)
	case []string:
		walkArray(w, t, inMetrics)
	case string:
		if n := utf8.RuneCountInString(t); inMetrics && n > MaxMetricText {
			w.note(w.path(), fmt.Sprintf("is %d characters long; the cap is %d characters for a metric's name or text", n, MaxMetricText))
		}
	}
}

// walkArray walks list, the array the walk is at.
func walkArray[T any](w *limitWalk, list []T, inMetrics bool) {
	if !w.enter(len(list), MaxArrayLength, "elements", "an array") {
		return
	}
	for i, e := range list {
		if w.done() {
			return
		}
		w.at = append(w.at, step{index: i})
		w.value(e, inMetrics)
		w.at = w.at[:len(w.at)-1]
	}
}
