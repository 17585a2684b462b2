package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// chromiumPath returns the path of the Chromium binary the browser tests run, and
// skips the test, naming the tool, when it is not on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("skipped: needs chromium, which is not on PATH (apt-get install chromium; .ci/run installs it)")
	}
	return path
}

// TestReportInChromium opens a report in headless Chromium, as a clinician's browser
// would, through the real server and its headers: the page renders with its charts
// and without a word from the browser about its Content-Security-Policy, its
// screenshot shows the charts, and it prints to A4 pages.
func TestReportInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	e := newEnv(t)
	e.createPatient("C1")
	start := time.Date(2023, 1, 2, 9, 0, 0, 0, time.UTC)
	const visits = 40
	for i := range visits {
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"insurance_no":"C1","interaction_date":%q,
		  "ailment":"Hypertension","label":["cardio"],"health_status":%d,
		  "metrics":{"temp":%.1f,"BP":"%d/%d","HR":%d,"SpO2":%d,"weight":%.1f,"ECG":"Normal"},
		  "next_steps":{"prescribed_meds":["Ramipril 5mg"],"prescribed_tests":["Creatinine"]}}`,
			start.AddDate(0, 0, 14*i).Format(time.RFC3339), 3+i%6, 36.6+float64(i%5)/5, 150-i, 95-i/2, 80-i%7, 95+i%4, 92-float64(i)/4))
	}
	base := e.listen()
	// The browser sends no API key: a proxy in front of the server adds a viewer's.
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	forward := proxy.Director
	proxy.Director = func(r *http.Request) {
		forward(r)
		r.Header.Set("Authorization", "Bearer "+e.keys[models.RoleViewer])
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	page := front.URL + "/api/v1/patients/C1/report"
	dir := t.TempDir()

	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0"}, args...)
		cmd := exec.CommandContext(ctx, chromium, append(args, page)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), errOut.String()
	}

	t.Run("renders", func(t *testing.T) {
		dom, log := run("--virtual-time-budget=5000", "--dump-dom")
		// Health status and five vital series (systolic and diastolic apart), and the
		// visits' timeline.
		if n := strings.Count(dom, "<svg "); n != 8 {
			t.Errorf("the page shows %d SVG elements, want 8", n)
		}
		if n := strings.Count(dom, `<polyline class="series"`); n != 7 {
			t.Errorf("the page draws %d series, want 7", n)
		}
		if n := strings.Count(dom, `<circle class="dot`); n != 7*visits { // abnormal readings are "dot abnormal"
			t.Errorf("the page draws %d points, want %d", n, 7*visits)
		}
		if regexp.MustCompile(`(?i)<script`).MatchString(dom) {
			t.Error("the page holds a script")
		}
		// Chromium logs every resource or style the policy refuses.
		if m := regexp.MustCompile(`(?i).*(refused to|content security policy).*`).FindString(log); m != "" {
			t.Errorf("the browser refused part of the page: %s", m)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(dir, "report.png")
		run("--window-size=900,1600", "--hide-scrollbars", "--screenshot="+shot)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("the screenshot is not a PNG: %v", err)
		}
		// The series are drawn in the stylesheet's blue (#1f5fa8): seen only when the
		// page's style applies and its charts are drawn.
		if n := pixelsNear(img, 0x1f, 0x5f, 0xa8); n < 2000 {
			t.Errorf("the screenshot shows %d pixels of the charts' blue, want 2000 or more", n)
		}
	})

	t.Run("prints to A4", func(t *testing.T) {
		pdf := filepath.Join(dir, "report.pdf")
		run("--no-pdf-header-footer", "--print-to-pdf="+pdf)
		data, err := os.ReadFile(pdf)
		if err != nil {
			t.Fatalf("no PDF: %v", err)
		}
		if !bytes.HasPrefix(data, []byte("%PDF-")) {
			t.Fatalf("not a PDF: %q", data[:min(len(data), 16)])
		}
		pages := len(regexp.MustCompile(`/Type\s*/Page\b`).FindAll(data, -1))
		t.Logf("the PDF has %d pages, %d bytes", pages, len(data))
		// The summary, seven charts (four to a page) and 40 visits: 3 to 8 pages.
		if pages < 3 || pages > 8 {
			t.Errorf("the PDF has %d pages, want 3 to 8", pages)
		}
		boxes := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]`).FindAllSubmatch(data, -1)
		if len(boxes) == 0 {
			t.Fatal("the PDF names no page size")
		}
		for _, box := range boxes {
			w, _ := strconv.ParseFloat(string(box[1]), 64)
			h, _ := strconv.ParseFloat(string(box[2]), 64)
			// A4 is 210 × 297 mm: 595.3 × 841.9 points.
			if abs(w-595.3) > 2 || abs(h-841.9) > 2 {
				t.Errorf("a page of %.1f × %.1f points, not A4 (595.3 × 841.9)", w, h)
			}
		}
	})
}

// pixelsNear counts the pixels of img within a small distance of the colour r, g, b.
func pixelsNear(img image.Image, r, g, b uint8) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr>>8, r) && near(pg>>8, g) && near(pb>>8, b) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, want uint8) bool { return abs(float64(v)-float64(want)) <= 24 }

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestSavedReportKeepsItsPolicy saves a report to a file, as `curl -o` does, and
// opens it from file:// in headless Chromium, where no header comes with it: what
// the policy forbids and something had slipped into the page (a script, an image
// from elsewhere, a stylesheet from elsewhere) is refused, and the page still
// renders with its own style. The same page with its policy taken out runs and
// loads them all, which shows that the test sees what a page does.
func TestSavedReportKeepsItsPolicy(t *testing.T) {
	chromium := chromiumPath(t)
	e := newEnv(t)
	e.createPatient("C2")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"C2","ailment":"Hypertension","health_status":6,
	  "metrics":{"BP":"150/95","HR":80}}`)
	res := e.as(models.RoleViewer).do("GET", "/api/v1/patients/C2/report", "")
	if res.status != 200 {
		t.Fatalf("report: %d %s", res.status, res.body)
	}
	page := string(res.body)

	var mu sync.Mutex
	var fetched []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched = append(fetched, r.URL.Path)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Content-Type", "text/css")
			_, _ = io.WriteString(w, "body { margin-left: 3px; }")
		}
	}))
	defer elsewhere.Close()
	injected := `<script>document.body.setAttribute("data-script-ran", "yes")</script>` +
		`<img src="` + elsewhere.URL + `/beacon.png" alt="">` +
		`<link rel="stylesheet" href="` + elsewhere.URL + `/sheet.css">`
	if !strings.Contains(page, "</body>") {
		t.Fatal("the page has no </body>")
	}
	dir := t.TempDir()
	open := func(name, page string) (dom, log string, loaded []string) {
		t.Helper()
		path := filepath.Join(dir, name+".html")
		if err := os.WriteFile(path, []byte(strings.Replace(page, "</body>", injected+"</body>", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		fetched = nil
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(dir, "profile-"+name), "--enable-logging=stderr", "--v=0",
			"--virtual-time-budget=5000", "--dump-dom", "file://"+path)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, errOut.String())
		}
		mu.Lock()
		defer mu.Unlock()
		return out.String(), errOut.String(), slices.Clone(fetched)
	}

	t.Run("saved", func(t *testing.T) {
		dom, log, loaded := open("saved", page)
		if strings.Contains(dom, `data-script-ran="yes"`) {
			t.Error("the saved page ran a script")
		}
		if len(loaded) > 0 {
			t.Errorf("the saved page loaded %q from elsewhere", loaded)
		}
		if n := strings.Count(dom, "<svg "); n == 0 {
			t.Error("the saved page shows no chart")
		}
		// Chromium logs every refusal of its policy: the script and the two loads,
		// and nothing of the page's own (its stylesheet; a directive a page cannot
		// hold, such as frame-ancestors).
		refusals := regexp.MustCompile(`(?i).*(refused to|content security policy).*`).FindAllString(log, -1)
		if len(refusals) != 3 {
			t.Errorf("the browser logged %d refusals, want 3 (the script and the two loads):\n%s", len(refusals), strings.Join(refusals, "\n"))
		}
		for _, r := range refusals {
			if !strings.Contains(r, elsewhere.URL) && !regexp.MustCompile(`(?i)inline script`).MatchString(r) {
				t.Errorf("the browser refused part of the page itself: %s", r)
			}
		}
	})

	t.Run("without its policy", func(t *testing.T) {
		stripped := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`).ReplaceAllString(page, "")
		dom, _, loaded := open("stripped", stripped)
		if !strings.Contains(dom, `data-script-ran="yes"`) {
			t.Error("the page without its policy did not run the script: the test cannot see a script run")
		}
		slices.Sort(loaded)
		if !slices.Equal(loaded, []string{"/beacon.png", "/sheet.css"}) {
			t.Errorf("the page without its policy loaded %q: the test cannot see a load", loaded)
		}
	})
}
