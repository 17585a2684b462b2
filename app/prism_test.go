package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// TestAnswersPassPrism puts Stoplight Prism, a validating proxy, in front of a real
// server, with the OpenAPI document, and sends requests through it: the trail's
// verification, intact and broken (with breaks), and a few others. Prism flags any
// request or answer the document does not allow; none may be flagged.
func TestAnswersPassPrism(t *testing.T) {
	prism, err := exec.LookPath("prism")
	if err != nil {
		t.Skip("needs prism (npm install -g @stoplight/prism-cli), the validating proxy")
	}
	e := tamperEnv(t)
	base := e.listen()
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prism, "proxy", "../docs/swagger.json", base, "--errors", "--host", "127.0.0.1", "--port", port)
	output := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	proxy := "http://127.0.0.1:" + port
	waitForPort(t, "127.0.0.1:"+port, output)

	send := func(role models.Role, method, path, body string, headers ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, proxy+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.keys[role])
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if v := res.Header.Get("sl-violations"); v != "" || strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("Prism flags %s %s: %d %s\nviolations: %s", method, path, res.StatusCode, data, v)
		}
		return res.StatusCode, string(data)
	}
	for _, r := range []struct {
		role               models.Role
		method, path, body string
		want               int
	}{
		{models.RoleClinician, "POST", "/api/v1/patients", `{"insurance_no":"A11","fname":"Test"}`, 201},
		{models.RoleClinician, "POST", "/api/v1/interactions", `{"insurance_no":"A11","label":["fever"]}`, 201},
		{models.RoleViewer, "GET", "/api/v1/patients/A11", "", 200},
		{models.RoleViewer, "GET", "/api/v1/patients/Z99", "", 404},
		{models.RoleViewer, "GET", "/api/v1/patients/A11/interactions?limit=5", "", 200},
		{models.RoleAuditor, "GET", "/api/v1/audit?insurance_no=A11", "", 200},
		{models.RoleViewer, "GET", "/api/v1/audit", "", 403},
		{models.RoleAuditor, "GET", "/api/v1/audit/verify", "", 200},
	} {
		if status, body := send(r.role, r.method, r.path, r.body); status != r.want {
			t.Errorf("%s %s: %d, want %d: %s", r.method, r.path, status, r.want, body)
		}
	}

	events := e.auditEvents()
	update(t, e, events[2].ID, bson.D{{Key: "status", Value: 299}})
	status, body := send(models.RoleAuditor, "GET", "/api/v1/audit/verify", "")
	if status != 200 || !strings.Contains(body, `"ok":false`) || !strings.Contains(body, `"breaks":[{`) {
		t.Errorf("verify of a broken trail through Prism: %d %s", status, body)
	}
}

// freePort returns a loopback port free at the moment.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// waitForPort waits, a minute at most, until addr takes connections.
func waitForPort(t *testing.T, addr string, output *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s:\n%s", addr, output)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
