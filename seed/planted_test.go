package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
)

// plantedPatients is how many planted patients the quality test loads: ten twins,
// about 2,000 visits.
const plantedPatients = 250

// Thresholds of the quality of the insights on planted data.
const (
	minARI           = 0.8
	minQuestionsTop3 = 0.9
	questionCases    = 40
)

// TestPlantedQuality loads planted patients into the store and measures, through
// the API, how well the insights find what was planted: the cohorts (adjusted Rand
// index), the question pattern of each ailment (in the top 3 suggestions of the
// visits of that ailment that did not ask it) and the twins (among the 5 nearest
// patients). It logs the figures the README reports; run it with
//
//	go test ./seed -run TestPlantedQuality -v
func TestPlantedQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 250 patients and sends about 100 requests that read the whole store")
	}
	repo, _ := newRepository(t)
	ctx := context.Background()
	patients, visits, truth, err := generatePlanted(defaultSeed, time.Now(), plantedPatients)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertPatients(ctx, patients); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertInteractions(ctx, visits); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	server, err := app.NewServer(logger, repo, app.ServerConfig{RequestTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := apikey.New(repo, nil, logger).Issue(ctx, models.NewKeyRequest{Name: "quality", Role: models.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, into any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+issued.Key)
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
		path := fmt.Sprintf("/api/v1/analytics/cohorts?k=%d&limit=100", len(plantedCohorts))
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
		if len(found) != plantedPatients {
			t.Fatalf("%d members, want %d", len(found), plantedPatients)
		}
		ari := insights.AdjustedRandIndex(found, want)
		t.Logf("cohorts: adjusted Rand index %.3f over %d patients, %d planted cohorts", ari, len(found), len(plantedCohorts))
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
