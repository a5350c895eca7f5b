package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
)

// cluster is a stand-in for kube-apiserver that records what reaches it.
type cluster struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	// incomplete makes its rules reviews say that another authorizer may
	// allow more than the rules listed (as with a webhook authorizer).
	incomplete bool
}

// fakeRules is the fake's RBAC for alice in shop: create promotions and
// approvals; promote into dev and test; approve into dev only.
var fakeRules = []authorizationv1.ResourceRule{
	{Verbs: []string{"create"}, APIGroups: []string{"gitgate.dev"}, Resources: []string{"promotions", "promotions/approval"}},
	{Verbs: []string{"promote"}, APIGroups: []string{"gitgate.dev"}, Resources: []string{"environments"}, ResourceNames: []string{"dev", "test"}},
	{Verbs: []string{"approve", "get"}, APIGroups: []string{"gitgate.dev"}, Resources: []string{"environments"}, ResourceNames: []string{"dev"}},
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.Clone(context.Background()))
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "leak=1")
		if strings.HasSuffix(r.URL.Path, "/selfsubjectrulesreviews") {
			var review authorizationv1.SelfSubjectRulesReview
			json.NewDecoder(r.Body).Decode(&review)
			if review.Spec.Namespace == "shop" {
				review.Status.ResourceRules = fakeRules
			}
			c.mu.Lock()
			review.Status.Incomplete = c.incomplete
			c.mu.Unlock()
			json.NewEncoder(w).Encode(review)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/selfsubjectaccessreviews") {
			// The same RBAC as fakeRules, and for names the rules do not
			// list (the authorizer the incomplete rules stand for): promote
			// into qa as well.
			var review authorizationv1.SelfSubjectAccessReview
			json.NewDecoder(r.Body).Decode(&review)
			if a := review.Spec.ResourceAttributes; a != nil && a.Namespace == "shop" && a.Group == "gitgate.dev" {
				review.Status.Allowed = rulesAllow(fakeRules, question{a.Verb, a.Resource, a.Subresource, a.Name}) ||
					a.Verb == "promote" && a.Resource == "environments" && a.Name == "qa"
			}
			if !review.Status.Allowed {
				review.Status.Reason = "no RBAC rule allows it"
			}
			json.NewEncoder(w).Encode(review)
			return
		}
		if r.URL.Query().Get("watch") == "1" {
			w.Write([]byte(`{"type":"ADDED","object":{"metadata":{"name":"first"}}}` + "\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a watch stays open
			return
		}
		w.Write([]byte(`{"kind":"EnvironmentList","items":[]}`))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *cluster) requests() []*http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Request(nil), c.seen...)
}

// start serves a ui.Server for namespace shop in front of a fake cluster.
func start(t *testing.T) (*Server, *cluster) {
	t.Helper()
	return startWith(t, Options{Namespace: "shop"})
}

// startWith serves a ui.Server with opts, as alice, in front of a fake
// cluster, until the test ends.
func startWith(t *testing.T, opts Options) (*Server, *cluster) {
	t.Helper()
	c := newCluster(t)
	opts.Config = &rest.Config{Host: c.URL, BearerToken: "alices-token"}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, c
}

// send makes one request to the server, with headers given as "Key: value".
func send(t *testing.T, s *Server, method, path, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestGuard(t *testing.T) {
	s, c := start(t)
	tok := "/" + s.token
	origin := "Origin: http://" + s.Addr().String()
	wrong := []byte(s.token)
	wrong[0] ^= 1
	cases := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		code         int
		contains     string
	}{
		{"refused: no token", "GET", "/", "", nil, 403, "missing or wrong token"},
		{"refused: the config without a token", "GET", "/config", "", nil, 403, "missing or wrong token"},
		{"refused: a wrong token of the right length", "GET", "/" + string(wrong) + "/", "", nil, 403, "missing or wrong token"},
		{"refused: the token's prefix", "GET", tok[:20] + "/", "", nil, 403, "missing or wrong token"},
		{"refused: the token as a query parameter", "GET", "/?token=" + s.token, "", nil, 403, "missing or wrong token"},
		{"refused: the proxy without a token", "GET", "/k8s/apis/gitgate.dev/v1alpha1/namespaces/shop/environments", "", nil, 403, "missing or wrong token"},
		{"refused: a rebound DNS name as Host", "GET", tok + "/", "", []string{"Host: evil.example:" + strings.Split(s.Addr().String(), ":")[1]}, 403, "Host header"},
		{"refused: another port as Host", "GET", tok + "/", "", []string{"Host: 127.0.0.1:1"}, 403, "Host header"},
		{"refused: another site's Origin", "GET", tok + "/config", "", []string{"Origin: https://evil.example"}, 403, "cross-origin"},
		{"refused: a null Origin (sandboxed frame)", "GET", tok + "/config", "", []string{"Origin: null"}, 403, "cross-origin"},
		{"refused: a cross-site fetch", "GET", tok + "/config", "", []string{"Sec-Fetch-Site: cross-site"}, 403, "cross-site"},
		{"refused: a POST without Origin", "POST", tok + "/k8s/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", "{}", []string{"Content-Type: application/json"}, 403, "no Origin"},
		{"refused: a POST from another site", "POST", tok + "/k8s/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", "{}", []string{"Content-Type: application/json", "Origin: http://evil.example"}, 403, "cross-origin"},
		{"served: the page", "GET", tok + "/", "", nil, 200, "<title>gitgate pipeline</title>"},
		{"served: the page, its configuration inline", "GET", tok + "/", "", nil, 200, `<meta name="gitgate-config" content="{&#34;allNamespaces&#34;:false,&#34;namespace&#34;:&#34;shop&#34;}">`},
		{"served: the page, typed by the user", "GET", tok + "/", "", []string{"Sec-Fetch-Site: none"}, 200, "<title>gitgate pipeline</title>"},
		{"served: the page at localhost", "GET", tok + "/", "", []string{"Host: localhost:" + strings.Split(s.Addr().String(), ":")[1]}, 200, "<title>gitgate pipeline</title>"},
		{"served: the script, from the page", "GET", tok + "/app.js", "", []string{origin, "Sec-Fetch-Site: same-origin"}, 200, "follow("},
		{"served: the configuration", "GET", tok + "/config", "", nil, 200, `"namespace":"shop"`},
		{"redirected: the URL without its slash", "GET", tok, "", nil, 302, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.requests())
			resp, body := send(t, s, tc.method, tc.path, tc.body, tc.headers...)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.code, tc.contains)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q does not keep the page out of frames", got)
			}
			if tc.code == 403 && len(c.requests()) != before {
				t.Errorf("a refused request reached the cluster")
			}
		})
	}
}

func TestProxy(t *testing.T) {
	s, c := start(t)
	k8s := "/" + s.token + "/k8s"
	origin := "Origin: http://" + s.Addr().String()
	json := "Content-Type: application/json"
	cases := []struct {
		name, method, path, body string
		headers                  []string
		code                     int
		forwarded                string // the request line the cluster sees; "" when refused
	}{
		{"forwarded: list environments", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments", "", nil, 200,
			"GET /apis/gitgate.dev/v1alpha1/namespaces/shop/environments"},
		{"forwarded: one environment's history", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/history", "", nil, 200,
			"GET /apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/history"},
		{"forwarded: a page of promotions", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?limit=50&continue=abc", "", nil, 200,
			"GET /apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?continue=abc&limit=50"},
		{"forwarded: a dry-run promotion", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?dryRun=All", `{"kind":"Promotion","spec":{}}`, []string{origin, json}, 200,
			"POST /apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?dryRun=All"},
		{"forwarded: who am I", "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", `{"kind":"SelfSubjectReview"}`, []string{origin, json}, 200,
			"POST /apis/authentication.k8s.io/v1/selfsubjectreviews"},
		{"forwarded: an approval", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Approval","spec":{"decision":"approve"}}`, []string{origin, json}, 200,
			"POST /apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval"},
		{"refused: an approval without Origin", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Approval"}`, []string{json}, 403, ""},
		{"refused: an approval in another namespace", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/other/promotions/prod-1/approval", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval as a dry run", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval?dryRun=All", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval with a field manager", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval?fieldManager=x", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval's body of another kind", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Promotion"}`, []string{origin, json}, 403, ""},
		{"refused: an approval whose kind is Approval only in another case", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Promotion","KIND":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval's body that is not an object", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `["Approval"]`, []string{origin, json}, 403, ""},
		{"refused: reading an approval", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", "", nil, 403, ""},
		{"refused: replacing an approval", "PUT", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: patching an approval", "PATCH", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: a promotion's status", "PUT", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/status", `{"kind":"Promotion"}`, []string{origin, json}, 403, ""},
		{"refused: creating a promotion's status", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/status", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an environment's freeze", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/freeze", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval of a name that climbs out", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/..%2Fprod/approval", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval below the subresource", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/prod-1/approval/x", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: an approval of an environment", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/approval", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: a promotion posted to the approval route's kind", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", `{"kind":"Approval"}`, []string{origin, json}, 403, ""},
		{"refused: promotions of every namespace without -A", "GET", "/apis/gitgate.dev/v1alpha1/promotions", "", nil, 403, ""},
		{"refused: secrets", "GET", "/api/v1/namespaces/shop/secrets", "", nil, 403, ""},
		{"refused: environments of another namespace", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/other/environments", "", nil, 403, ""},
		{"refused: environments of every namespace", "GET", "/apis/gitgate.dev/v1alpha1/environments", "", nil, 403, ""},
		{"refused: deleting an environment", "DELETE", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod", "", []string{origin}, 403, ""},
		{"refused: updating an environment", "PUT", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod", "{}", []string{origin, json}, 403, ""},
		{"refused: creating an environment", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments", "{}", []string{origin, json}, 403, ""},
		{"refused: sealing a secret", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/sealedsecrets", "{}", []string{origin, json}, 403, ""},
		{"refused: an access review for someone else", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "{}", []string{origin, json}, 403, ""},
		{"refused: impersonation through the query", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments?as=admin", "", nil, 403, ""},
		{"refused: a label selector on promotions", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?labelSelector=a", "", nil, 403, ""},
		{"refused: dryRun other than All", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?dryRun=None", "{}", []string{origin, json}, 403, ""},
		{"refused: a name that climbs out", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/..%2F..%2F..%2Fapi%2Fv1%2Fsecrets", "", nil, 403, ""},
		{"refused: a path that climbs out", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/../../../../../api/v1/namespaces/shop/secrets", "", nil, 403, ""},
		{"refused: a body that is not JSON", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", "spec: {}", []string{origin, "Content-Type: application/yaml"}, 415, ""},
		{"refused: an oversized body", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", `{"x":"` + strings.Repeat("a", maxBody) + `"}`, []string{origin, json}, 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.requests())
			headers := append([]string{"Cookie: session=browser", "Authorization: Bearer from-the-browser"}, tc.headers...)
			resp, body := send(t, s, tc.method, k8s+tc.path, tc.body, headers...)
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.code)
			}
			got := c.requests()[before:]
			if tc.forwarded == "" {
				if len(got) != 0 {
					t.Fatalf("the cluster received %s %s", got[0].Method, got[0].URL)
				}
				if tc.code == 403 && !strings.Contains(body, `"reason":"Forbidden"`) {
					t.Errorf("the refusal is not a Status: %s", body)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("the cluster received %d requests, want 1", len(got))
			}
			r := got[0]
			if line := r.Method + " " + r.URL.RequestURI(); line != tc.forwarded {
				t.Errorf("the cluster received %q, want %q", line, tc.forwarded)
			}
			if a := r.Header.Get("Authorization"); a != "Bearer alices-token" {
				t.Errorf("Authorization %q, want the kubeconfig's credentials", a)
			}
			if r.Header.Get("Cookie") != "" || r.Header.Get("Origin") != "" {
				t.Errorf("the browser's headers reached the cluster: %v", r.Header)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Error("the cluster's Set-Cookie reached the browser")
			}
		})
	}
}

// A watch reaches the page event by event, while it is still open.
func TestProxyStreamsWatches(t *testing.T) {
	s, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"k8s/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions?watch=1&resourceVersion=7", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"name":"first"`) {
		t.Fatalf("first event: %q, %v", line, err)
	}
}

func TestNewRefusesNonLoopbackAddresses(t *testing.T) {
	config := &rest.Config{Host: "https://127.0.0.1:6443"}
	for _, tc := range []struct{ name, address, want string }{
		{"refused: every interface", "0.0.0.0", "not a loopback IP"},
		{"refused: every IPv6 interface", "::", "not a loopback IP"},
		{"refused: a LAN address", "192.168.1.10", "not a loopback IP"},
		{"refused: a host name, even localhost", "localhost", "not a loopback IP"},
		{"refused: no namespace", "127.0.0.1", "a namespace is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := "shop"
			if strings.Contains(tc.name, "no namespace") {
				ns = ""
			}
			_, err := New(Options{Address: tc.address, Namespace: ns, Config: config})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	s, err := New(Options{Namespace: "shop", Config: config})
	if err != nil {
		t.Fatal(err)
	}
	defer s.listener.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || len(s.token) < 43 {
		t.Errorf("default server: URL %s, token of %d characters", s.URL(), len(s.token))
	}
	other, err := New(Options{Namespace: "shop", Config: config})
	if err != nil {
		t.Fatal(err)
	}
	defer other.listener.Close()
	if other.token == s.token {
		t.Error("two servers share a token")
	}
}

func TestAccessReviewsAreTheUsers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		incomplete bool
		requests   int    // reaching the cluster
		source     string // how the answers were made
		qa         bool   // promote into qa: allowed only by the reviews
	}{
		{"answered from one rules review: complete rules", false, 1, "rules", false},
		{"asked by access reviews: incomplete rules, for what they do not allow", true, 1 + 5, "reviews", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t)
			c.mu.Lock()
			c.incomplete = tc.incomplete
			c.mu.Unlock()
			origin := "Origin: http://" + s.Addr().String()
			resp, body := send(t, s, "POST", "/"+s.token+"/access", `{"environments":["dev","test","qa","prod"]}`, origin, "Content-Type: application/json")
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			var got Access
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !got.Create.Allowed || !got.Approval.Allowed || !got.Promote["dev"].Allowed || !got.Promote["test"].Allowed || got.Promote["prod"].Allowed {
				t.Errorf("access %+v, want create, approval, promote into dev and test, not prod", got)
			}
			if !got.Approve["dev"].Allowed || got.Approve["test"].Allowed || got.Approve["prod"].Allowed || got.Promote["prod"].Reason == "" {
				t.Errorf("access %+v, want approve into dev only, and a reason for prod", got)
			}
			if got.Promote["qa"].Allowed != tc.qa || got.Source != tc.source {
				t.Errorf("promote into qa %v from %q, want %v from %q", got.Promote["qa"].Allowed, got.Source, tc.qa, tc.source)
			}
			// Incomplete: promote qa and prod, approve test, qa and prod.
			if n := len(c.requests()); n != tc.requests {
				t.Errorf("%d requests reached the cluster, want %d", n, tc.requests)
			}
			for _, r := range c.requests() {
				if r.Header.Get("Authorization") != "Bearer alices-token" {
					t.Errorf("a review was made without the user's credentials: %v", r.Header)
				}
			}
		})
	}

	s, c := start(t)
	origin := "Origin: http://" + s.Addr().String()
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"refused: a name that is not an environment name", `{"environments":["../secrets"]}`, 422},
		{"refused: more than 1000 environments", `{"environments":[` + strings.Repeat(`"a",`, 1000) + `"a"]}`, 413},
		{"refused: not JSON", `environments: [dev]`, 400},
		{"refused: another namespace without -A", `{"namespace":"other","environments":["dev"]}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.requests())
			if resp, body := send(t, s, "POST", "/"+s.token+"/access", tc.body, origin, "Content-Type: application/json"); resp.StatusCode != tc.code {
				t.Errorf("got %d %s, want %d", resp.StatusCode, body, tc.code)
			}
			if len(c.requests()) != before {
				t.Error("a refused request made reviews")
			}
		})
	}
	if resp, _ := send(t, s, "POST", "/"+s.token+"/access", `{"environments":[]}`, "Content-Type: application/json"); resp.StatusCode != 403 {
		t.Errorf("an access request without Origin got %d, want 403", resp.StatusCode)
	}
}

func TestRulesAllowMatchesLikeRBAC(t *testing.T) {
	rule := func(verbs, groups, resources, names []string) authorizationv1.ResourceRule {
		return authorizationv1.ResourceRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	g := []string{"gitgate.dev"}
	approveProd := question{"approve", "environments", "", "prod"}
	createApproval := question{"create", "promotions", "approval", ""}
	for _, tc := range []struct {
		name  string
		rules []authorizationv1.ResourceRule
		q     question
		want  bool
	}{
		{"allowed: the verb on the environment by name", []authorizationv1.ResourceRule{rule([]string{"approve"}, g, []string{"environments"}, []string{"dev", "prod"})}, approveProd, true},
		{"allowed: the verb on every environment", []authorizationv1.ResourceRule{rule([]string{"approve"}, g, []string{"environments"}, nil)}, approveProd, true},
		{"allowed: every verb, group and resource", []authorizationv1.ResourceRule{rule([]string{"*"}, []string{"*"}, []string{"*"}, nil)}, approveProd, true},
		{"allowed: the subresource of any resource", []authorizationv1.ResourceRule{rule([]string{"create"}, g, []string{"*/approval"}, nil)}, createApproval, true},
		{"allowed: the subresource by name", []authorizationv1.ResourceRule{rule([]string{"create"}, g, []string{"promotions/approval"}, nil)}, createApproval, true},
		{"denied: another environment's name", []authorizationv1.ResourceRule{rule([]string{"approve"}, g, []string{"environments"}, []string{"dev"})}, approveProd, false},
		{"denied: another verb", []authorizationv1.ResourceRule{rule([]string{"promote"}, g, []string{"environments"}, nil)}, approveProd, false},
		{"denied: another group", []authorizationv1.ResourceRule{rule([]string{"approve"}, []string{""}, []string{"environments"}, nil)}, approveProd, false},
		{"denied: the resource without the subresource", []authorizationv1.ResourceRule{rule([]string{"create"}, g, []string{"promotions"}, nil)}, createApproval, false},
		{"denied: another subresource", []authorizationv1.ResourceRule{rule([]string{"create"}, g, []string{"promotions/status", "*/freeze"}, nil)}, createApproval, false},
		{"denied: a named rule for a question without a name", []authorizationv1.ResourceRule{rule([]string{"create"}, g, []string{"promotions/approval"}, []string{"x"})}, createApproval, false},
		{"denied: no rules", nil, approveProd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesAllow(tc.rules, tc.q); got != tc.want {
				t.Errorf("rulesAllow = %v, want %v", got, tc.want)
			}
		})
	}
}

// With --all-namespaces the proxy forwards the page's requests for any
// namespace, and cluster-wide lists; RBAC is the cluster's to apply.
func TestProxyAllNamespaces(t *testing.T) {
	s, c := startWith(t, Options{AllNamespaces: true})
	k8s := "/" + s.token + "/k8s"
	origin := "Origin: http://" + s.Addr().String()
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"forwarded: environments of every namespace", "GET", "/apis/gitgate.dev/v1alpha1/environments?resourceVersion=1", "", 200},
		{"forwarded: promotions of every namespace", "GET", "/apis/gitgate.dev/v1alpha1/promotions?limit=50", "", 200},
		{"forwarded: environments of namespace shop", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments", "", 200},
		{"forwarded: an approval in namespace web", "POST", "/apis/gitgate.dev/v1alpha1/namespaces/web/promotions/p-1/approval", `{"kind":"Approval"}`, 200},
		{"refused: a namespace that is not a name", "GET", "/apis/gitgate.dev/v1alpha1/namespaces/..%2Fx/environments", "", 403},
		{"refused: secrets of every namespace", "GET", "/api/v1/secrets", "", 403},
		{"refused: namespaces", "GET", "/api/v1/namespaces", "", 403},
		{"refused: deleting an environment in any namespace", "DELETE", "/apis/gitgate.dev/v1alpha1/namespaces/web/environments/prod", "", 403},
		{"refused: a label selector across namespaces", "GET", "/apis/gitgate.dev/v1alpha1/promotions?labelSelector=a", "", 403},
		{"refused: a field selector across namespaces", "GET", "/apis/gitgate.dev/v1alpha1/environments?fieldSelector=a", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.requests())
			resp, body := send(t, s, tc.method, k8s+tc.path, tc.body, origin, "Content-Type: application/json")
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.code)
			}
			if reached := len(c.requests()) - before; (tc.code == 200) != (reached == 1) {
				t.Errorf("%d requests reached the cluster for a %d", reached, tc.code)
			}
		})
	}
	resp, body := send(t, s, "POST", "/"+s.token+"/access", `{"namespace":"shop","environments":["dev","prod"]}`, origin, "Content-Type: application/json")
	if resp.StatusCode != 200 || !strings.Contains(body, `"source":"rules"`) {
		t.Errorf("access in shop: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, s, "POST", "/"+s.token+"/access", `{"environments":["dev"]}`, origin, "Content-Type: application/json"); resp.StatusCode != 422 {
		t.Errorf("access without a namespace under -A: %d %s, want 422", resp.StatusCode, body)
	}
	if resp, body := send(t, s, "GET", "/"+s.token+"/config", "", origin); !strings.Contains(body, `"allNamespaces":true`) {
		t.Errorf("config: %d %s", resp.StatusCode, body)
	}
}
