package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
)

// maxReviews bounds the environments one access request may ask about.
const maxReviews = 1000

// Access is what the user may do in the namespace, from
// SelfSubjectAccessReviews made with the user's own credentials.
type Access struct {
	// Create is the verb create on promotions.gitgate.dev.
	Create Decision `json:"create"`
	// Promote is the verb promote on each environment asked about.
	Promote map[string]Decision `json:"promote"`
}

// Decision is one review's answer.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Reason is the authorizer's reason, or why the review failed.
	Reason string `json:"reason,omitempty"`
	// Failed is true when the review could not be made.
	Failed bool `json:"failed,omitempty"`
}

// accessReviewer asks the cluster, as the user, what the user may do: the
// page sends one request for all its environments, and the reviews run
// concurrently here instead of one browser request each.
type accessReviewer struct {
	client    authorizationclient.SelfSubjectAccessReviewInterface
	namespace string
}

func newAccessReviewer(config *rest.Config, namespace string) (*accessReviewer, error) {
	config = rest.CopyConfig(config)
	config.ContentType, config.AcceptContentTypes = "application/json", "application/json" // readable in -v logs and by any server
	// One page asks about all its environments at once: 200 reviews must
	// not queue behind client-go's default 5 requests a second. The
	// server's priority and fairness still applies.
	config.QPS, config.Burst = 100, 200
	c, err := authorizationclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building an authorization client from the kubeconfig: %w", err)
	}
	return &accessReviewer{client: c.SelfSubjectAccessReviews(), namespace: namespace}, nil
}

func (a *accessReviewer) review(ctx context.Context, verb, resource, name string) Decision {
	r, err := a.client.Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: a.namespace, Verb: verb, Group: "gitgate.dev", Resource: resource, Name: name},
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

// ServeHTTP answers POST {"environments": [names]} with an Access.
func (a *accessReviewer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Environments []string `json:"environments"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "the body must be {\"environments\": [names]}: "+err.Error())
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
	out := Access{Promote: map[string]Decision{}}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				d := a.review(r.Context(), "promote", "environments", name)
				mu.Lock()
				out.Promote[name] = d
				mu.Unlock()
			}
		}()
	}
	out.Create = a.review(r.Context(), "create", "promotions", "")
	for _, n := range req.Environments {
		work <- n
	}
	close(work)
	wg.Wait()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
