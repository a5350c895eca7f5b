package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/breakglass"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/registry"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// clientVerifier accepts the client certificates a CA bundle (reloaded
// when its file changes) signed for client authentication, optionally
// only those with allowed common names.
type clientVerifier struct {
	ca interface {
		VerifyOptions() (x509.VerifyOptions, bool)
	}
	allowedNames []string
}

// clientAuthentication returns the webhook's client verifier, nil when no
// --admission-client-ca-file is set.
func (a *AdmissionOptions) clientAuthentication(ctx context.Context) (*clientVerifier, error) {
	if a.ClientCAFile == "" {
		if len(a.ClientAllowedNames) > 0 {
			return nil, errors.New("--admission-client-allowed-names needs --admission-client-ca-file")
		}
		klog.FromContext(ctx).Info("The admission webhook does not authenticate its callers: set --admission-client-ca-file to answer only kube-apiserver")
		return nil, nil
	}
	ca, err := dynamiccertificates.NewDynamicCAContentFromFile("admission-client-ca", a.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("--admission-client-ca-file: %w", err)
	}
	go ca.Run(ctx, 1)
	return &clientVerifier{ca: ca, allowedNames: a.ClientAllowedNames}, nil
}

// verify is a tls.Config VerifyPeerCertificate: the handshake fails unless
// the first certificate chains to the CA for client authentication and,
// when names are configured, carries one of them.
func (v *clientVerifier) verify(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) == 0 {
		return errors.New("a client certificate is required")
	}
	certs := make([]*x509.Certificate, 0, len(rawCerts))
	for _, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("parsing the client certificate: %w", err)
		}
		certs = append(certs, c)
	}
	opts, ok := v.ca.VerifyOptions()
	if !ok {
		return errors.New("no client CA is loaded")
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	opts.Intermediates = x509.NewCertPool()
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("the client certificate is not from the admission client CA: %w", err)
	}
	if len(v.allowedNames) > 0 && !slices.Contains(v.allowedNames, certs[0].Subject.CommonName) {
		return fmt.Errorf("client certificate common name %q is not allowed", certs[0].Subject.CommonName)
	}
	return nil
}

// fluxClaimants lists the environments that claim a Flux Kustomization,
// with the namespaces they deploy into: the Kustomization's
// targetNamespace (cluster state) when it sets one, else the overlay's.
func fluxClaimants(manager *repositories.Manager, flux registry.SyncSource) admission.ClaimantLookup {
	return func(ns, name string) []admission.Claimant {
		claims := manager.FluxClaims(ns, name)
		target := ""
		if flux != nil {
			if k, ok := flux.Kustomization(ns, name); ok {
				target = k.TargetNamespace
			}
		}
		out := make([]admission.Claimant, 0, len(claims))
		for _, c := range claims {
			cl := admission.Claimant{Owner: admission.Owner{Environment: c.Environment, EnvironmentNamespace: c.Namespace, Repository: c.Repository, Path: c.Path}}
			switch {
			case target != "":
				cl.Namespaces = []string{target}
			case c.OverlayNamespace != "":
				cl.Namespaces = []string{c.OverlayNamespace}
			}
			out = append(out, cl)
		}
		return out
	}
}

// breakGlassRecorder records a confirmed break-glass change: durably on
// the audit ref of the environment's repository, then as an Event.
type breakGlassRecorder struct {
	manager *repositories.Manager
	events  events.EventRecorder
}

// recordAttempts bounds how often a record is retried while Git is down.
const recordAttempts = 5

func (r *breakGlassRecorder) record(ctx context.Context, rec *breakglass.Record) {
	logger := klog.FromContext(ctx).WithValues("user", rec.User, "kind", rec.Kind.Kind, "namespace", rec.Namespace, "name", rec.Name)
	b := engine.BreakGlass{
		Environment: rec.Environment, User: rec.User, Operation: rec.Operation,
		APIVersion: rec.Kind.GroupVersion().String(), Kind: rec.Kind.Kind, Namespace: rec.Namespace, Name: rec.Name,
		Reason: rec.Reason, Key: rec.Key(), Time: rec.Observed,
	}
	// The environment's repository; else the one bound to the object's namespace.
	where := rec.EnvironmentNamespace
	if where == "" {
		where = rec.Namespace
	}
	note := ""
	if e, _, ok := r.manager.Engine(where); ok {
		wrote, err := recordWithRetry(ctx, e, b)
		switch {
		case err != nil:
			logger.Error(err, "Recording a break-glass change in Git failed")
			note = " (not recorded in Git: the repository could not be written; see gitgate-apiserver's log)"
		case !wrote:
			return // another replica recorded it, and writes the Event
		}
	} else {
		logger.Info("No repository serves the namespace of a break-glass change; it is recorded as an Event only", "namespace", where)
		note = " (no gitgate repository serves namespace " + where + ", so it is not recorded in Git)"
	}
	ref := &corev1.ObjectReference{APIVersion: rec.Kind.GroupVersion().String(), Kind: rec.Kind.Kind, Namespace: rec.Namespace, Name: rec.Name, UID: rec.UID, ResourceVersion: rec.ResourceVersion}
	var related *corev1.ObjectReference // the Environment shows the drift
	if rec.Environment != "" {
		related = &corev1.ObjectReference{APIVersion: "gitgate.dev/v1alpha1", Kind: "Environment", Namespace: rec.EnvironmentNamespace, Name: rec.Environment}
	}
	r.events.Eventf(ref, related, corev1.EventTypeWarning, admission.BreakGlassReason, "Admit",
		"%s changed %s %s outside Git (%s): %s%s", rec.User, rec.Kind.Kind, rec.Name, rec.Operation, rec.Reason, note)
}

func recordWithRetry(ctx context.Context, e *engine.Engine, b engine.BreakGlass) (bool, error) {
	backoff := time.Second
	for i := 1; ; i++ {
		wrote, err := e.RecordBreakGlass(ctx, b)
		if err == nil || i == recordAttempts || !errors.Is(err, engine.ErrUnavailable) {
			return wrote, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
