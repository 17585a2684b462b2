package synthetic

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkPatient measures the work a seed does in Go for each patient, apart from
// the store: drawing the patient with its history ("draw"), and also encoding each
// record as the store receives it ("encode").
func BenchmarkPatient(b *testing.B) {
	now := time.Now()
	for _, encode := range []bool{false, true} {
		name := "draw"
		if encode {
			name = "encode"
		}
		b.Run(name, func(b *testing.B) {
			g := New(1, now)
			i := 0
			for b.Loop() {
				p, history, err := g.Patient(i)
				if err != nil {
					b.Fatal(err)
				}
				i++
				if !encode {
					continue
				}
				if _, err := bson.Marshal(p); err != nil {
					b.Fatal(err)
				}
				for _, in := range history {
					if _, err := bson.Marshal(in); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
