package insights_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/storetest"
	"github.com/clinic/interactions/synthetic"
)

// plantedPatients is how many planted patients the quality test loads by default:
// ten twins, about 2,000 visits. PLANTED_PATIENTS asks for another number.
const plantedPatients = 250

// plantedSeed is the seed the planted patients are drawn from: the seed command's
// default, as go run ./seed -generate N -planted loads them.
const plantedSeed = 1

// servePlanted stores patients and visits in a new database of a store opened for tb
// alone (see storetest), closed when tb ends, and returns the server of the API over
// it, whose requests may take timeout, with a viewer key: the quality test and the
// routes benchmark need a store, the package's other tests none.
func servePlanted(tb testing.TB, patients []models.Patient, visits []models.Interaction, timeout time.Duration) (*app.Server, string) {
	tb.Helper()
	server, key, _ := servePlantedAgain(tb, patients, visits, timeout)
	return server, key
}

// servePlantedAgain is servePlanted, and returns a function that makes another
// server of the same store, which has computed nothing yet.
func servePlantedAgain(tb testing.TB, patients []models.Patient, visits []models.Interaction, timeout time.Duration) (*app.Server, string, func() *app.Server) {
	tb.Helper()
	store, err := storetest.Open()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(store.Close)
	repo, _ := store.DB(tb)
	ctx := context.Background()
	if _, err := repo.InsertPatients(ctx, patients); err != nil {
		tb.Fatal(err)
	}
	for start := 0; start < len(visits); start += 5000 {
		if _, err := repo.InsertInteractions(ctx, visits[start:min(start+5000, len(visits))]); err != nil {
			tb.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	serve := func() *app.Server {
		server, err := app.NewServer(logger, repo, app.ServerConfig{RequestTimeout: timeout})
		if err != nil {
			tb.Fatal(err)
		}
		return server
	}
	issued, err := apikey.New(repo, nil, logger).Issue(ctx, models.NewKeyRequest{Name: "planted", Role: models.RoleClinician})
	if err != nil {
		tb.Fatal(err)
	}
	return serve(), issued.Key, serve
}

// Thresholds of the quality of the insights on planted data.
const (
	minARI           = 0.8
	minQuestionsTop3 = 0.9
	questionCases    = 60
)

// TestPlantedQuality loads planted patients into the store and measures, through
// the API, how well the insights find what was planted: the cohorts (adjusted Rand
// index), the question pattern of each ailment (in the top 3 suggestions of the
// visits of that ailment that did not ask it) and the twins (among the 5 nearest
// patients). It logs the figures the workspace guide reports; run it with
//
//	go test ./insights -run TestPlantedQuality -v
//	PLANTED_PATIENTS=2000 go test ./insights -run TestPlantedQuality -v -timeout 30m
func TestPlantedQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 250 patients and sends about 100 requests that read the whole store")
	}
	n := plantedPatients
	if v := os.Getenv("PLANTED_PATIENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2*synthetic.TwinEvery {
			t.Fatalf("PLANTED_PATIENTS=%q: want a number of at least %d", v, 2*synthetic.TwinEvery)
		}
	}
	patients, visits, truth, err := synthetic.GeneratePlanted(plantedSeed, time.Now(), n)
	if err != nil {
		t.Fatal(err)
	}
	server, key := servePlanted(t, patients, visits, time.Minute)
	get := func(path string, into any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := server.Test(req, 120_000)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, data)
		}
		if err := json.Unmarshal(data, into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	t.Run("cohorts", func(t *testing.T) {
		var found, want []int
		path := fmt.Sprintf("/api/v1/analytics/cohorts?k=%d&limit=100", truth.Cohorts)
		for cursor := ""; ; {
			var page handlers.Cohorts
			get(path+cursor, &page)
			for _, m := range page.Members.Items {
				found = append(found, m.Cohort)
				want = append(want, truth.Cohort[m.InsuranceNo])
			}
			if page.Members.NextCursor == nil {
				for _, c := range page.Cohorts {
					t.Logf("cohort %d (%d): %s", c.Cohort, c.Size, c.Description)
				}
				break
			}
			cursor = "&cursor=" + *page.Members.NextCursor
		}
		if len(found) != n {
			t.Fatalf("%d members, want %d", len(found), n)
		}
		ari := insights.AdjustedRandIndex(found, want)
		t.Logf("cohorts: adjusted Rand index %.3f over %d patients, %d planted cohorts", ari, len(found), truth.Cohorts)
		if ari < minARI {
			t.Errorf("adjusted Rand index %.3f, want at least %.1f", ari, minARI)
		}
	})

	t.Run("twins", func(t *testing.T) {
		found := 0
		for _, twin := range slices.Sorted(maps.Keys(truth.Twins)) {
			var similar handlers.SimilarPatients
			get("/api/v1/patients/"+twin+"/similar?k=5", &similar)
			rank := slices.IndexFunc(similar.Items, func(n handlers.Neighbour) bool { return n.InsuranceNo == truth.Twins[twin] })
			if rank < 0 {
				t.Errorf("twin %s: %s is not among the 5 nearest", twin, truth.Twins[twin])
				continue
			}
			found++
			if rank > 0 {
				t.Logf("twin %s: at rank %d", twin, rank+1)
			}
		}
		t.Logf("twins: %d of %d found among the 5 nearest patients", found, len(truth.Twins))
	})

	t.Run("questions", func(t *testing.T) {
		// The cases: visits of a planted ailment that did not ask its question, taken
		// evenly through the visits.
		var cases []models.Interaction
		for _, in := range visits {
			q, ok := truth.Questions[in.Ailment]
			if ok && !slices.ContainsFunc(in.QA, func(e bson.E) bool { return e.Key == q }) {
				cases = append(cases, in)
			}
		}
		step := max(1, len(cases)/questionCases)
		hits, tried := 0, 0
		for i := 0; i < len(cases) && tried < questionCases; i += step {
			in := cases[i]
			var got handlers.QuestionSuggestions
			get("/api/v1/interactions/"+in.ID+"/suggested-questions?limit=3", &got)
			tried++
			want := insights.Key(truth.Questions[in.Ailment])
			if slices.ContainsFunc(got.Items, func(s insights.Suggestion) bool { return insights.Key(s.Question) == want }) {
				hits++
			} else {
				var top []string
				for _, s := range got.Items {
					top = append(top, s.Question)
				}
				t.Logf("%s (%s): top 3 %s", in.ID, in.Ailment, strings.Join(top, " | "))
			}
		}
		rate := float64(hits) / float64(tried)
		t.Logf("questions: planted question in the top 3 for %d of %d visits (%.1f%%)", hits, tried, 100*rate)
		if rate < minQuestionsTop3 {
			t.Errorf("planted question in the top 3 for %.1f%% of cases, want at least %.0f%%", 100*rate, 100*minQuestionsTop3)
		}
	})
}

// BenchmarkPlantedCohorts computes the cohorts of 10,000 planted patients (about
// 80,000 visits) as /analytics/cohorts does once it has read them: their profiles,
// visit by visit, the feature space, k-means (k 5) and the cohorts' descriptions.
// The records are made before the timer starts; the peak of the live heap counts
// them too: records-MB is the heap they hold before the timer starts, which a
// request, reading them through a cursor, never holds.
//
//	go test ./insights -run XXX -bench PlantedCohorts -benchtime 3x
func BenchmarkPlantedCohorts(b *testing.B) {
	patients, visits, truth, err := synthetic.GeneratePlanted(plantedSeed, time.Now(), 10_000)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	records := liveHeap()
	b.ReportAllocs()
	b.ResetTimer()
	stop := peakHeap()
	var ari float64
	for b.Loop() {
		p := insights.NewProfiler()
		for _, pat := range patients {
			p.AddPatient(pat)
		}
		for _, in := range visits {
			p.AddVisit(in)
		}
		ctx := context.Background()
		space, err := insights.NewSpace(ctx, p.Profiles())
		if err != nil {
			b.Fatal(err)
		}
		c, err := insights.KMeans(ctx, space.Vectors, truth.Cohorts, insights.KMeansSeed)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := space.Describe(ctx, c, p.Names()); err != nil {
			b.Fatal(err)
		}
		want := make([]int, len(space.Profiles))
		for i, prof := range space.Profiles {
			want[i] = truth.Cohort[prof.InsuranceNo]
		}
		ari = insights.AdjustedRandIndex(c.Assign, want)
	}
	b.ReportMetric(stop(), "peak-heap-MB")
	b.ReportMetric(records, "records-MB")
	b.ReportMetric(ari, "ARI")
	b.ReportMetric(float64(len(visits)), "visits")
}

// BenchmarkInsightRoutes asks the insight routes about 10,000 planted patients
// (about 80,000 visits) stored in the test store, through the whole server: the
// first page of the cohorts (each time of a new server, which computes the model of
// every patient: reading the visits is most of it), the same page again and the
// next page (of the model computed), a patient's similar patients (of the same
// model), a visit's suggested questions and the labels by month (which read the
// visits every time). The records are loaded before the timers start; peak-heap-MB
// is that of the whole process, the embedded store included.
//
//	go test ./insights -run XXX -bench InsightRoutes -benchtime 3x -timeout 30m
func BenchmarkInsightRoutes(b *testing.B) {
	patients, visits, _, err := synthetic.GeneratePlanted(plantedSeed, time.Now(), 10_000)
	if err != nil {
		b.Fatal(err)
	}
	server, key, serve := servePlantedAgain(b, patients, visits, 10*time.Minute)
	patient, visit := patients[123].InsuranceNo, visits[456].ID
	patients, visits = nil, nil
	get := func(b *testing.B, server *app.Server, path string) []byte {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := server.Test(req, -1)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%d %s", res.StatusCode, data)
		}
		return data
	}
	const first = "/api/v1/analytics/cohorts?k=5&limit=100"
	var page handlers.Cohorts
	if err := json.Unmarshal(get(b, server, first), &page); err != nil || page.Members.NextCursor == nil {
		b.Fatalf("the first page: %v", err)
	}
	for _, route := range []struct {
		name, path string
		cold       bool
	}{
		{"cohorts-first-page", first, true},
		{"cohorts-same-page", first, false},
		{"cohorts-next-page", first + "&cursor=" + *page.Members.NextCursor, false},
		{"similar", "/api/v1/patients/" + patient + "/similar?k=5", false},
		{"suggested-questions", "/api/v1/interactions/" + visit + "/suggested-questions", false},
		{"labels", "/api/v1/analytics/labels", false},
	} {
		b.Run(route.name, func(b *testing.B) {
			runtime.GC()
			stop := peakHeap()
			for b.Loop() {
				to := server
				if route.cold {
					b.StopTimer()
					to = serve()
					b.StartTimer()
				}
				get(b, to, route.path)
			}
			b.ReportMetric(stop(), "peak-heap-MB")
		})
	}
}
