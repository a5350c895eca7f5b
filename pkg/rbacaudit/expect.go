package rbacaudit

import (
	"fmt"
	"path"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Expectation is a subject a platform team accepts as able to get around
// the promise, such as the Flux controllers or the release managers.
type Expectation struct {
	// Kind is User, Group or ServiceAccount; empty matches any kind.
	Kind string `json:"kind,omitempty"`
	// Namespace of a service account, a glob ("*" for any).
	Namespace string `json:"namespace,omitempty"`
	// Name is a glob: "system:*", "shop-release-managers".
	Name string `json:"name"`
	// Can narrows the expectation to these capabilities; empty is any.
	Can []Capability `json:"can,omitempty"`
}

// ParseExpectation reads the --allow form: NAME, KIND:NAME, or
// ServiceAccount:NAMESPACE/NAME, where names are globs
// ("ServiceAccount:flux-system/*", "User:system:*").
func ParseExpectation(s string) (Expectation, error) {
	e := Expectation{Name: s}
	if kind, rest, ok := strings.Cut(s, ":"); ok {
		switch kind {
		case rbacv1.UserKind, rbacv1.GroupKind:
			e = Expectation{Kind: kind, Name: rest}
		case rbacv1.ServiceAccountKind:
			ns, name, ok := strings.Cut(rest, "/")
			if !ok {
				return Expectation{}, fmt.Errorf("%q: a service account is ServiceAccount:NAMESPACE/NAME", s)
			}
			e = Expectation{Kind: kind, Namespace: ns, Name: name}
		}
	}
	return e, e.Validate()
}

// Validate checks the globs and the kind.
func (e Expectation) Validate() error {
	switch e.Kind {
	case "", rbacv1.UserKind, rbacv1.GroupKind, rbacv1.ServiceAccountKind:
	default:
		return fmt.Errorf("kind %q: must be User, Group or ServiceAccount", e.Kind)
	}
	if e.Name == "" {
		return fmt.Errorf("an expectation needs a name (a glob such as \"system:*\")")
	}
	for _, glob := range []string{e.Namespace, e.Name} {
		if _, err := path.Match(glob, ""); err != nil {
			return fmt.Errorf("%q is not a valid glob: %w", glob, err)
		}
	}
	for _, c := range e.Can {
		if _, ok := capabilityOrder[c]; !ok {
			return fmt.Errorf("capability %q is unknown: use one of %s", c, capabilityNames())
		}
	}
	return nil
}

// Covers reports whether the expectation accepts a finding.
func (e Expectation) Covers(f Finding) bool {
	s := f.Subject
	if e.Kind != "" && e.Kind != s.Kind {
		return false
	}
	if ok, _ := path.Match(e.Name, s.Name); !ok {
		return false
	}
	if e.Namespace != "" {
		if ok, _ := path.Match(e.Namespace, s.Namespace); !ok || s.Kind != rbacv1.ServiceAccountKind {
			return false
		}
	}
	if len(e.Can) > 0 {
		for _, c := range e.Can {
			if c == f.Can {
				return true
			}
		}
		return false
	}
	return true
}

// Compare marks each finding expected or not and returns those that no
// expectation covers.
func Compare(findings []Finding, expected []Expectation) []Finding {
	var unexpected []Finding
	for i := range findings {
		ok := false
		for _, e := range expected {
			if e.Covers(findings[i]) {
				ok = true
				break
			}
		}
		findings[i].Expected = &ok
		if !ok {
			unexpected = append(unexpected, findings[i])
		}
	}
	return unexpected
}

func capabilityNames() string {
	names := make([]string, len(capabilityOrder))
	for c, i := range capabilityOrder {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}
