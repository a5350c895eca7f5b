package ui

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	kjson "sigs.k8s.io/json"
)

// maxBody is the largest request body the proxy forwards: a Promotion or
// an access review is a few hundred bytes.
const maxBody = 64 << 10

// route is one kind of request the page may send to the cluster. Path
// segments "{ns}" must be the server's namespace (any namespace with
// --all-namespaces) and "{name}" an object name; query holds the
// parameters that may be passed on, each with the values it may take (nil:
// any); kind, when set, is the only kind the JSON body may be.
type route struct {
	method string
	path   string
	query  map[string][]string
	kind   string
	// allNamespaces routes are forwarded only by a server started with
	// --all-namespaces.
	allNamespaces bool
}

var listQuery = map[string][]string{
	"watch": {"1", "true"}, "resourceVersion": nil, "allowWatchBookmarks": {"true"},
	"timeoutSeconds": nil, "limit": nil, "continue": nil,
}

// allowed is everything the proxy forwards; the page needs no more.
var allowed = []route{
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/environments", query: listQuery},
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/environments/{name}"},
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/environments/{name}/history"},
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/promotions", query: listQuery},
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/promotions/{name}"},
	{method: http.MethodPost, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/promotions", query: map[string][]string{"dryRun": {"All"}}, kind: "Promotion"},
	// Approve or reject one promotion: this subresource only (never
	// status or another), no query (no dryRun, no fieldManager), an
	// Approval body.
	{method: http.MethodPost, path: "/apis/gitgate.dev/v1alpha1/namespaces/{ns}/promotions/{name}/approval", kind: "Approval"},
	// The user's own name: it says nothing about anyone else. (Access
	// reviews are made by the server, see access.go.)
	{method: http.MethodPost, path: "/apis/authentication.k8s.io/v1/selfsubjectreviews", kind: "SelfSubjectReview"},
	// Every namespace's environments and promotions, with --all-namespaces
	// only; RBAC decides whether the user may list them.
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/environments", query: listQuery, allNamespaces: true},
	{method: http.MethodGet, path: "/apis/gitgate.dev/v1alpha1/promotions", query: listQuery, allNamespaces: true},
}

// match returns the route that allows method and path in namespace ns
// ("" for any namespace: --all-namespaces), or an error saying why
// nothing does.
func match(method, path, ns string) (route, error) {
	got := strings.Split(path, "/")
	for _, r := range allowed {
		want := strings.Split(r.path, "/")
		if r.method != method || len(want) != len(got) || r.allNamespaces && ns != "" {
			continue
		}
		ok := true
		for i, w := range want {
			switch w {
			case "{ns}":
				ok = ok && (got[i] == ns || ns == "" && len(validation.IsDNS1123Label(got[i])) == 0)
			case "{name}":
				ok = ok && len(validation.IsDNS1123Subdomain(got[i])) == 0
			default:
				ok = ok && got[i] == w
			}
		}
		if ok {
			return r, nil
		}
	}
	where := "namespace " + ns
	if ns == "" {
		where = "any namespace"
	}
	return route{}, fmt.Errorf("kubectl gitgate ui does not forward %s %s: it forwards only gitgate environments, promotions and approvals of %s and your own user review", method, path, where)
}

// filterQuery keeps the parameters q allows, refusing any other.
func filterQuery(values url.Values, allowedQuery map[string][]string) (url.Values, error) {
	out := url.Values{}
	for k, vs := range values {
		permitted, known := allowedQuery[k]
		if !known {
			return nil, fmt.Errorf("query parameter %q is not forwarded", k)
		}
		for _, v := range vs {
			if permitted != nil && !contains(permitted, v) {
				return nil, fmt.Errorf("query parameter %s=%q is not forwarded (allowed: %s)", k, v, strings.Join(permitted, ", "))
			}
			out.Add(k, v)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newProxy forwards allowed requests to the cluster with the user's
// credentials (from config: client certificates, tokens, exec plugins),
// passing only the headers a Kubernetes request needs and nothing the
// browser adds (cookies, its own Authorization). ns "" forwards requests
// for every namespace (--all-namespaces).
func newProxy(config *rest.Config, ns string) (http.Handler, error) {
	base, err := url.Parse(config.Host)
	if err != nil || config.Host == "" {
		return nil, fmt.Errorf("the kubeconfig's server %q is not a URL: %w", config.Host, err)
	}
	if base.Scheme == "" {
		base, err = url.Parse("https://" + config.Host)
		if err != nil {
			return nil, fmt.Errorf("the kubeconfig's server %q is not a URL: %w", config.Host, err)
		}
	}
	transport, err := rest.TransportFor(config)
	if err != nil {
		return nil, fmt.Errorf("building a client from the kubeconfig: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Transport:     transport,
		FlushInterval: -1, // watches reach the page as they happen
		Rewrite: func(pr *httputil.ProxyRequest) {
			in := pr.In
			out := *base
			out.Path = strings.TrimSuffix(base.Path, "/") + in.URL.Path // a server URL may have a path (a proxy's)
			out.RawPath = ""
			out.RawQuery = in.URL.RawQuery // already filtered
			pr.Out.URL = &out
			pr.Out.Host = ""
			pr.Out.Header = http.Header{}
			pr.Out.Header.Set("Accept", "application/json")
			pr.Out.Header.Set("User-Agent", "kubectl-gitgate-ui")
			if in.Body != nil && in.Method == http.MethodPost {
				pr.Out.Header.Set("Content-Type", "application/json")
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			kept := http.Header{}
			for _, k := range []string{"Content-Type", "Retry-After", "Warning", "Audit-Id"} {
				if v := resp.Header.Values(k); len(v) > 0 {
					kept[k] = v
				}
			}
			resp.Header = kept
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, http.StatusBadGateway, "ServiceUnavailable", "the cluster could not be reached: "+err.Error())
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, err := match(r.Method, r.URL.Path, ns)
		if err != nil {
			forbidden(w, err.Error())
			return
		}
		query, err := filterQuery(r.URL.Query(), rt.query)
		if err != nil {
			forbidden(w, err.Error())
			return
		}
		if r.Method == http.MethodPost {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				writeStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the body must be application/json")
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("the body is larger than %d bytes, or could not be read: %v", maxBody, err))
				return
			}
			var head struct {
				Kind string `json:"kind"`
			}
			// Keys are matched case-sensitively, as kube-apiserver does:
			// {"kind":"Promotion","KIND":"Approval"} is a Promotion.
			if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &head); err != nil || head.Kind != rt.kind {
				forbidden(w, fmt.Sprintf("kubectl gitgate ui forwards only a JSON %s to %s", rt.kind, r.URL.Path))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		r.URL.RawQuery = query.Encode()
		rp.ServeHTTP(w, r)
	}), nil
}
