package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/klog/v2"
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
