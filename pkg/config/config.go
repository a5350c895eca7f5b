// Package config reads gitgate's server configuration: which Git
// repository serves which namespaces, with which credentials.
package config

import (
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	gitgatevalidation "github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
)

// DefaultPollInterval is how often a repository is fetched when its
// configuration gives no pollInterval.
const DefaultPollInterval = 30 * time.Second

// Config is the server configuration file.
type Config struct {
	// Repositories lists the GitOps repositories and the namespaces each serves.
	Repositories []Repository `json:"repositories"`
}

// Repository binds one Git repository to namespaces.
type Repository struct {
	// Name identifies the repository in logs, metrics and status.
	Name string `json:"name"`
	// URL is the remote: https://, ssh:// or file://.
	URL string `json:"url"`
	// DefaultBranch holds the environment definitions; default main.
	DefaultBranch string `json:"defaultBranch,omitempty"`
	// Namespaces are served by this repository; a namespace appears in one
	// repository at most.
	Namespaces []string `json:"namespaces"`
	// SecretRef names a Secret with Flux-style keys: username/password,
	// bearerToken, identity + known_hosts, ca.crt.
	SecretRef *SecretReference `json:"secretRef,omitempty"`
	// PollInterval is how often the repository is fetched.
	PollInterval metav1.Duration `json:"pollInterval,omitempty"`
	// CommitAuthor signs gitgate's commits.
	CommitAuthor *Author `json:"commitAuthor,omitempty"`
	// Signing, when set, signs every commit gitgate makes in the
	// repository (promotions, environment changes, seals, audit records).
	Signing *Signing `json:"signing,omitempty"`
}

// Signing formats.
const (
	SigningOpenPGP = "openpgp"
	SigningSSH     = "ssh"
)

// Signing says how gitgate signs its commits in a repository.
type Signing struct {
	// Format is openpgp (Flux's GitRepository spec.verify checks these) or
	// ssh (git verify-commit with an allowed-signers file, Git hosts).
	Format string `json:"format"`
	// SecretRef names the Secret that holds the private key: git.asc (an
	// armored OpenPGP secret key) for openpgp, identity (an SSH private
	// key) for ssh, and passphrase when the key is protected by one.
	SecretRef SecretReference `json:"secretRef"`
}

// SecretReference names a Secret.
type SecretReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Author is a commit author.
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Load reads and validates the file at path.
func Load(path string) (*Config, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading configuration: %w", err)
	}
	cfg, err := Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return cfg, raw, nil
}

// Parse decodes, defaults and validates a configuration.
func Parse(raw []byte) (*Config, error) {
	var cfg Config
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return nil, fmt.Errorf("not a valid configuration: %w", err)
	}
	for i := range cfg.Repositories {
		r := &cfg.Repositories[i]
		if r.DefaultBranch == "" {
			r.DefaultBranch = "main"
		}
		if r.PollInterval.Duration == 0 {
			r.PollInterval.Duration = DefaultPollInterval
		}
		if r.CommitAuthor == nil {
			r.CommitAuthor = &Author{Name: "gitgate", Email: "gitgate@localhost"}
		}
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return &cfg, nil
}

// Validate checks names, URLs and that no namespace is bound twice.
func (c *Config) Validate() field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	bound := map[string]string{}
	for i, r := range c.Repositories {
		fld := field.NewPath("repositories").Index(i)
		for _, msg := range validation.IsDNS1123Label(r.Name) {
			errs = append(errs, field.Invalid(fld.Child("name"), r.Name, msg))
		}
		if names[r.Name] {
			errs = append(errs, field.Duplicate(fld.Child("name"), r.Name))
		}
		names[r.Name] = true
		if r.URL == "" {
			errs = append(errs, field.Required(fld.Child("url"), "must be the repository's https, ssh or file URL"))
		}
		errs = append(errs, gitgatevalidation.ValidateBranchName(r.DefaultBranch, fld.Child("defaultBranch"))...)
		if len(r.Namespaces) == 0 {
			errs = append(errs, field.Required(fld.Child("namespaces"), "must list the namespaces this repository serves"))
		}
		for j, ns := range r.Namespaces {
			if other, ok := bound[ns]; ok {
				errs = append(errs, field.Invalid(fld.Child("namespaces").Index(j), ns, "is already served by repository "+other))
			}
			bound[ns] = r.Name
		}
		if r.SecretRef != nil && (r.SecretRef.Name == "" || r.SecretRef.Namespace == "") {
			errs = append(errs, field.Required(fld.Child("secretRef"), "must give the Secret's namespace and name"))
		}
		if s := r.Signing; s != nil {
			if s.Format != SigningOpenPGP && s.Format != SigningSSH {
				errs = append(errs, field.NotSupported(fld.Child("signing", "format"), s.Format, []string{SigningOpenPGP, SigningSSH}))
			}
			if s.SecretRef.Name == "" || s.SecretRef.Namespace == "" {
				errs = append(errs, field.Required(fld.Child("signing", "secretRef"), "must give the namespace and name of the Secret holding the signing key"))
			}
		}
		if r.PollInterval.Duration < time.Second {
			errs = append(errs, field.Invalid(fld.Child("pollInterval"), r.PollInterval.Duration.String(), "must be at least 1s"))
		}
	}
	return errs
}
