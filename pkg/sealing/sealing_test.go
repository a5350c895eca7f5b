package sealing

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	sscrypto "github.com/bitnami/sealed-secrets/pkg/crypto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// keyPair makes a controller key and its PEM certificate valid from notBefore for validFor.
func keyPair(t *testing.T, notBefore time.Time, validFor time.Duration) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sscrypto.SignKeyWithNotBefore(rand.Reader, key, notBefore, validFor, "sealed-secrets-test")
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func secret(ns, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"c2VjcmV0"}}`}},
		Data:       map[string][]byte{"password": []byte("s3cr3t")},
		StringData: map[string]string{"user": "shop"},
		Type:       corev1.SecretTypeOpaque,
	}
}

func TestSealRoundTrip(t *testing.T) {
	now := time.Now()
	priv, certPEM := keyPair(t, now.Add(-time.Hour), 24*time.Hour)
	pub, err := ParseCertificate(certPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PrivateKey{}
	fp, _ := sscrypto.PublicKeyFingerprint(&priv.PublicKey)
	keys[fp] = priv

	tests := []struct {
		scope Scope
		// moved is where the sealed secret is moved to before unsealing.
		movedNS, movedName string
		opens              bool
	}{
		{ScopeStrict, "shop-prod", "db", true},
		{ScopeStrict, "shop-prod", "other", false},
		{ScopeStrict, "shop-test", "db", false},
		{ScopeNamespaceWide, "shop-prod", "other", true},
		{ScopeNamespaceWide, "shop-test", "db", false},
		{ScopeClusterWide, "shop-test", "other", true},
	}
	for _, tt := range tests {
		t.Run(tt.scope.String()+"/"+tt.movedNS+"/"+tt.movedName, func(t *testing.T) {
			ss, err := Seal(secret("shop-prod", "db"), pub, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			file, err := Marshal(ss)
			if err != nil {
				t.Fatal(err)
			}
			for _, plain := range []string{"s3cr3t", "c2VjcmV0", "shop\n", "last-applied"} {
				if strings.Contains(string(file), plain) {
					t.Fatalf("the committed file holds %q:\n%s", plain, file)
				}
			}
			back, errs := Parse(file, "shop-prod", field.NewPath("spec", "sealedSecret"))
			if len(errs) > 0 {
				t.Fatalf("Parse(Marshal(...)) = %v", errs)
			}
			back.Namespace, back.Name = tt.movedNS, tt.movedName
			got, err := back.Unseal(scheme.Codecs, keys)
			if !tt.opens {
				if err == nil {
					t.Fatalf("a %s secret moved to %s/%s opened", tt.scope.String(), tt.movedNS, tt.movedName)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unseal: %v", err)
			}
			if string(got.Data["password"]) != "s3cr3t" || string(got.Data["user"]) != "shop" {
				t.Fatalf("unsealed data = %q", got.Data)
			}
		})
	}
}

func TestParseCertificate(t *testing.T) {
	now := time.Now()
	_, expired := keyPair(t, now.Add(-48*time.Hour), 24*time.Hour)
	if _, err := ParseCertificate(expired, now); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: err = %v, want a refusal naming the expiry", err)
	}
	if _, err := ParseCertificate([]byte("not a certificate"), now); err == nil {
		t.Fatal("garbage accepted as a certificate")
	}
	_, valid := keyPair(t, now.Add(-time.Hour), 24*time.Hour)
	if _, err := ParseCertificate(valid, now); err != nil {
		t.Fatalf("valid certificate refused: %v", err)
	}
}

func TestSealRefuses(t *testing.T) {
	now := time.Now()
	_, certPEM := keyPair(t, now.Add(-time.Hour), 2*time.Hour)
	pub, err := ParseCertificate(certPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}}, pub, ScopeStrict); err == nil {
		t.Fatal("a Secret without data was sealed")
	}
	if _, err := Seal(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"a": "b"}}, pub, ScopeStrict); err == nil {
		t.Fatal("a strict Secret without namespace was sealed")
	}
	if _, err := ParseScope("galaxy-wide"); err == nil {
		t.Fatal("unknown scope accepted")
	}
}

func TestParse(t *testing.T) {
	fld := field.NewPath("spec", "sealedSecret")
	tests := []struct {
		name, doc string
		wantField string // empty: valid
	}{
		{"valid", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop-prod}\nspec:\n  encryptedData: {password: QUJDRA==}\n", ""},
		{"plain secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop-prod}\nstringData: {password: hunter2}\n", "spec.sealedSecret.kind"},
		{"other namespace", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop-test}\nspec:\n  encryptedData: {password: QUJDRA==}\n", "spec.sealedSecret.metadata.namespace"},
		{"no namespace", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db}\nspec:\n  encryptedData: {password: QUJDRA==}\n", "spec.sealedSecret.metadata.namespace"},
		{"bad name", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: DB_, namespace: shop-prod}\nspec:\n  encryptedData: {password: QUJDRA==}\n", "spec.sealedSecret.metadata.name"},
		{"empty", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop-prod}\nspec: {}\n", "spec.sealedSecret.spec.encryptedData"},
		{"not base64", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop-prod}\nspec:\n  encryptedData: {password: hunter2!}\n", "spec.sealedSecret.spec.encryptedData[password]"},
		{"template data", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop-prod}\nspec:\n  encryptedData: {password: QUJDRA==}\n  template:\n    data: {user: admin}\n", "spec.sealedSecret.spec.template.data"},
		{"missing", "", "spec.sealedSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Parse([]byte(tt.doc), "shop-prod", fld)
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("errors: %v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("accepted; want an error on %s", tt.wantField)
			}
			if errs[0].Field != tt.wantField {
				t.Fatalf("error on %s (%v), want %s", errs[0].Field, errs, tt.wantField)
			}
		})
	}
}
