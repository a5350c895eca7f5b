package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
)

// maxReviews bounds the environments one access request may ask about.
const maxReviews = 1000

// group is the API group of gitgate's resources.
const group = "gitgate.dev"

// Access is what the user may do in one namespace, from the user's own
// SelfSubjectRulesReview (one per namespace) or, where the rules review is
// incomplete, SelfSubjectAccessReviews, made with the user's credentials.
type Access struct {
	// Create is the verb create on promotions.gitgate.dev.
	Create Decision `json:"create"`
	// Approval is the verb create on promotions.gitgate.dev/approval.
	Approval Decision `json:"approval"`
	// Promote is the verb promote on each environment asked about.
	Promote map[string]Decision `json:"promote"`
	// Approve is the verb approve on each environment asked about.
	Approve map[string]Decision `json:"approve"`
	// Source says how the answers were made: "rules" (one
	// SelfSubjectRulesReview) or "reviews" (SelfSubjectAccessReviews, the
	// rules review being incomplete or failed).
	Source string `json:"source"`
}

// Decision is one review's answer.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Reason is the authorizer's reason, or why the review failed.
	Reason string `json:"reason,omitempty"`
	// Failed is true when the review could not be made.
	Failed bool `json:"failed,omitempty"`
}

// question is one thing the page asks about: verb on group resource
// (with its subresource) named name, in the namespace.
type question struct {
	verb, resource, subresource, name string
}

// accessReviewer asks the cluster, as the user, what the user may do: the
// page sends one request per namespace for all its environments. It asks
// for the user's rules in the namespace once (SelfSubjectRulesReview) and
// answers every button from them; only when the cluster says the rules are
// incomplete (an authorizer that cannot list rules, a webhook) does it ask
// a SelfSubjectAccessReview per question the rules do not allow,
// concurrently.
type accessReviewer struct {
	access authorizationclient.SelfSubjectAccessReviewInterface
	rules  authorizationclient.SelfSubjectRulesReviewInterface
	// namespace is the only namespace asked about, or "" for any
	// (kubectl gitgate ui --all-namespaces).
	namespace string
}

func newAccessReviewer(config *rest.Config, namespace string) (*accessReviewer, error) {
	config = rest.CopyConfig(config)
	config.ContentType, config.AcceptContentTypes = "application/json", "application/json" // readable in -v logs and by any server
	// When reviews are needed, one page asks about all its environments
	// at once: 400 reviews (promote and approve on 200 environments) must
	// not queue behind client-go's default 5 requests a second, nor behind
	// a burst smaller than them. The server's priority and fairness still
	// applies.
	config.QPS, config.Burst = 200, 2*maxReviews+2
	c, err := authorizationclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building an authorization client from the kubeconfig: %w", err)
	}
	return &accessReviewer{access: c.SelfSubjectAccessReviews(), rules: c.SelfSubjectRulesReviews(), namespace: namespace}, nil
}

func (a *accessReviewer) review(ctx context.Context, ns string, q question) Decision {
	r, err := a.access.Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: q.verb, Group: group, Resource: q.resource, Subresource: q.subresource, Name: q.name},
	}}, metav1.CreateOptions{})
	if err != nil {
		return Decision{Failed: true, Reason: err.Error()}
	}
	reason := r.Status.Reason
	if reason == "" {
		reason = r.Status.EvaluationError
	}
	return Decision{Allowed: r.Status.Allowed, Reason: reason}
}

// rulesAllow reports whether one of rules allows q, matching the way RBAC
// does: "*" for any verb, group or resource, "*/sub" for a subresource of
// any resource, and resourceNames (when set) naming the object.
func rulesAllow(rules []authorizationv1.ResourceRule, q question) bool {
	resource := q.resource
	if q.subresource != "" {
		resource += "/" + q.subresource
	}
	for _, r := range rules {
		if !has(r.Verbs, q.verb) || !has(r.APIGroups, group) {
			continue
		}
		resourceOK := false
		for _, rr := range r.Resources {
			if rr == "*" || rr == resource || q.subresource != "" && rr == "*/"+q.subresource {
				resourceOK = true
				break
			}
		}
		if !resourceOK {
			continue
		}
		if len(r.ResourceNames) == 0 || q.name != "" && contains(r.ResourceNames, q.name) {
			return true
		}
	}
	return false
}

// has is contains, with "*" matching anything.
func has(list []string, s string) bool {
	return contains(list, "*") || contains(list, s)
}

// decide answers qs in namespace ns: from one rules review when it is
// complete, else with an access review for each question the rules do
// not allow (an allowing rule is enough; a missing one may be another
// authorizer's to give).
func (a *accessReviewer) decide(ctx context.Context, ns string, qs []question) ([]Decision, string) {
	out := make([]Decision, len(qs))
	rr, err := a.rules.Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
	var rules []authorizationv1.ResourceRule
	complete := err == nil && !rr.Status.Incomplete && rr.Status.EvaluationError == ""
	if err == nil {
		rules = rr.Status.ResourceRules
	}
	var ask []int
	for i, q := range qs {
		switch {
		case rulesAllow(rules, q):
			out[i] = Decision{Allowed: true}
		case complete:
			out[i] = Decision{Reason: "no rule of yours allows it"}
		default:
			ask = append(ask, i)
		}
	}
	if len(ask) == 0 {
		return out, "rules"
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 16 && w < len(ask); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i] = a.review(ctx, ns, qs[i]) // each goroutine writes its own index
			}
		}()
	}
	for _, i := range ask {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, "reviews"
}

// ServeHTTP answers POST {"namespace": ns, "environments": [names]} with
// an Access. The namespace may be left out for the server's own; with
// --all-namespaces it may name any namespace.
func (a *accessReviewer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Namespace    string   `json:"namespace"`
		Environments []string `json:"environments"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "the body must be {\"namespace\": ns, \"environments\": [names]}: "+err.Error())
		return
	}
	ns := req.Namespace
	switch {
	case ns == "" && a.namespace != "":
		ns = a.namespace
	case a.namespace != "" && ns != a.namespace:
		forbidden(w, fmt.Sprintf("this page asks about namespace %s only", a.namespace))
		return
	case len(validation.IsDNS1123Label(ns)) > 0:
		writeStatus(w, http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("namespace %q: %s", ns, strings.Join(validation.IsDNS1123Label(ns), "; ")))
		return
	}
	if len(req.Environments) > maxReviews {
		writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("at most %d environments at once", maxReviews))
		return
	}
	for _, n := range req.Environments {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			writeStatus(w, http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("environment name %q: %s", n, errs[0]))
			return
		}
	}
	qs := []question{{verb: "create", resource: "promotions"}, {verb: "create", resource: "promotions", subresource: "approval"}}
	for _, n := range req.Environments {
		qs = append(qs, question{verb: "promote", resource: "environments", name: n}, question{verb: "approve", resource: "environments", name: n})
	}
	ds, source := a.decide(r.Context(), ns, qs)
	out := Access{Create: ds[0], Approval: ds[1], Promote: map[string]Decision{}, Approve: map[string]Decision{}, Source: source}
	for i, n := range req.Environments {
		out.Promote[n], out.Approve[n] = ds[2+2*i], ds[3+2*i]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
