package sealing

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"

	ssv1alpha1 "github.com/bitnami/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// APIVersion and Kind of the objects gitgate commits for secrets.
const (
	APIVersion = "bitnami.com/v1alpha1"
	Kind       = "SealedSecret"
)

// Parse decodes a SealedSecret sent to gitgate (JSON or YAML) and checks
// that it holds only ciphertext and belongs in namespace (any namespace when
// that is empty: the caller decides). Field errors are rooted at fld.
func Parse(raw []byte, namespace string, fld *field.Path) (*ssv1alpha1.SealedSecret, field.ErrorList) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, field.ErrorList{field.Required(fld, "a bitnami.com/v1alpha1 SealedSecret, sealed on the client (kubectl gitgate seal)")}
	}
	var ss ssv1alpha1.SealedSecret
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096).Decode(&ss); err != nil {
		return nil, field.ErrorList{field.Invalid(fld, "", "must be a SealedSecret: "+err.Error())}
	}
	var errs field.ErrorList
	if ss.APIVersion != APIVersion || ss.Kind != Kind {
		msg := "only bitnami.com/v1alpha1 SealedSecrets are committed"
		if ss.Kind == "Secret" {
			msg = "a plain Secret never goes to Git: seal it first (kubectl gitgate seal)"
		}
		errs = append(errs, field.Invalid(fld.Child("kind"), ss.APIVersion+"/"+ss.Kind, msg))
		return nil, errs
	}
	meta := fld.Child("metadata")
	if ss.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(ss.Name) {
			errs = append(errs, field.Invalid(meta.Child("name"), ss.Name, msg))
		}
	}
	switch {
	case ss.Namespace == "":
		errs = append(errs, field.Required(meta.Child("namespace"), "must be the environment's namespace"))
	case namespace != "" && ss.Namespace != namespace:
		errs = append(errs, field.Invalid(meta.Child("namespace"), ss.Namespace,
			"must be the environment's namespace "+namespace+": the overlay deploys there, and a strictly scoped secret opens only in the namespace it was sealed for"))
	}
	spec := fld.Child("spec")
	if len(ss.Spec.EncryptedData) == 0 {
		errs = append(errs, field.Required(spec.Child("encryptedData"), "a SealedSecret must hold at least one sealed value"))
	}
	for _, key := range sortedKeys(ss.Spec.EncryptedData) {
		p := spec.Child("encryptedData").Key(key)
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(p, key, msg))
		}
		ct, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[key])
		if err != nil || len(ct) == 0 {
			errs = append(errs, field.Invalid(p, "(ciphertext)", "must be base64 ciphertext made by kubeseal or kubectl gitgate seal"))
		}
	}
	if len(ss.Spec.Data) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("data"), "the deprecated single-blob format is not committed: seal again with kubectl gitgate seal"))
	}
	if len(ss.Spec.Template.Data) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("template", "data"), "template data is stored in plain text: put every value in encryptedData"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &ss, nil
}

// Marshal renders the SealedSecret as the file committed to Git: type,
// name, namespace, labels, annotations and spec; nothing the cluster owns.
func Marshal(ss *ssv1alpha1.SealedSecret) ([]byte, error) {
	out := ssv1alpha1.SealedSecret{
		TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name: ss.Name, Namespace: ss.Namespace, Labels: ss.Labels, Annotations: ss.Annotations,
		},
		Spec: ss.Spec,
	}
	out.Spec.Template.CreationTimestamp = metav1.Time{}
	b, err := yaml.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("encoding SealedSecret %s: %w", ss.Name, err)
	}
	// A creationTimestamp: null line says nothing; leave it out.
	return bytes.ReplaceAll(b, []byte("  creationTimestamp: null\n"), nil), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
