package gitstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultTimeout bounds every network operation that has no deadline of its own.
const DefaultTimeout = 60 * time.Second

const (
	remoteName     = "origin"
	remoteRefsRoot = "refs/remotes/" + remoteName + "/"
	// GitgateRefsRoot holds gitgate's own refs on the remote, such as the
	// break-glass audit chain: not branches, so Flux never reads them.
	GitgateRefsRoot = "refs/gitgate/"
	// gitgateTrackingRoot is where the mirror keeps them.
	gitgateTrackingRoot = "refs/remotes/" + remoteName + "-gitgate/"
)

// Options configure a Repository.
type Options struct {
	// URL is the remote: https://, ssh:// (or scp-like user@host:path) or file://.
	URL string
	// Credentials authenticate to the remote.
	Credentials Credentials
	// Timeout bounds each fetch and push; zero means DefaultTimeout.
	Timeout time.Duration
}

// Repository is an in-memory mirror of every branch of one remote.
type Repository struct {
	url      string
	auth     transport.AuthMethod
	caBundle []byte
	timeout  time.Duration
	repo     *git.Repository
}

// Open makes an empty mirror of the remote in opts. It does not touch the
// network: call Fetch to fill it.
func Open(opts Options) (*Repository, error) {
	auth, err := authMethod(opts.URL, opts.Credentials)
	if err != nil {
		return nil, err
	}
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, fmt.Errorf("initializing in-memory repository: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{
		Name: remoteName,
		URLs: []string{opts.URL},
		Fetch: []config.RefSpec{
			config.RefSpec("+refs/heads/*:" + remoteRefsRoot + "*"),
			config.RefSpec("+" + GitgateRefsRoot + "*:" + gitgateTrackingRoot + "*"),
		},
	}); err != nil {
		return nil, fmt.Errorf("configuring remote: %w", err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Repository{url: opts.URL, auth: auth, caBundle: opts.Credentials.CAFile, timeout: timeout, repo: repo}, nil
}

// URL is the remote's URL without any user information.
func (r *Repository) URL() string { return redactURL(r.url) }

// Fetch brings every branch of the remote into the mirror, pruning branches
// the remote deleted. It returns an error wrapping ErrUnavailable when the
// remote cannot be reached.
func (r *Repository) Fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		Auth:       r.auth,
		CABundle:   r.caBundle,
		Prune:      true,
		Force:      true,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("fetching %s: the repository is empty: push an initial commit first: %w", r.URL(), ErrUnavailable)
	default:
		return fmt.Errorf("fetching %s: %w: %w", r.URL(), ErrUnavailable, err)
	}
}

// requireAbsent fails with ErrRemoteMoved when the remote has ref.
func (r *Repository) requireAbsent(ctx context.Context, ref string) error {
	remote, err := r.repo.Remote(remoteName)
	if err != nil {
		return err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: r.auth, CABundle: r.caBundle})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return fmt.Errorf("listing %s: %w: %w", r.URL(), ErrUnavailable, err)
	}
	for _, existing := range refs {
		if existing.Name().String() == ref {
			return fmt.Errorf("pushing %s: the branch exists already: %w", strings.TrimPrefix(ref, "refs/heads/"), ErrRemoteMoved)
		}
	}
	return nil
}

// Branches returns the head of every remote branch as of the last Fetch or Push.
func (r *Repository) Branches() (map[string]Hash, error) {
	iter, err := r.repo.References()
	if err != nil {
		return nil, fmt.Errorf("listing references: %w", err)
	}
	heads := map[string]Hash{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(name, remoteRefsRoot) {
			heads[strings.TrimPrefix(name, remoteRefsRoot)] = fromPlumbing(ref.Hash())
		}
		return nil
	})
	return heads, err
}

// GitgateRef returns the commit a ref under GitgateRefsRoot (a full name,
// such as refs/gitgate/audit) is at as of the last Fetch or Push, or
// ZeroHash when the remote has no such ref.
func (r *Repository) GitgateRef(name string) (Hash, error) {
	rest, ok := strings.CutPrefix(name, GitgateRefsRoot)
	if !ok {
		return ZeroHash, fmt.Errorf("%s is not under %s", name, GitgateRefsRoot)
	}
	ref, err := r.repo.Storer.Reference(plumbing.ReferenceName(gitgateTrackingRoot + rest))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return ZeroHash, nil
	}
	if err != nil {
		return ZeroHash, fmt.Errorf("reading %s: %w", name, err)
	}
	return fromPlumbing(ref.Hash()), nil
}

// PushRequest moves one remote branch.
type PushRequest struct {
	// Branch is the branch name, without refs/heads/.
	Branch string
	// Ref, when set, is the full name of a ref under GitgateRefsRoot to
	// move instead of Branch.
	Ref string
	// Old is the commit the branch must be at, or ZeroHash when it must not exist.
	Old Hash
	// New is the commit to move it to; it must be in the mirror.
	New Hash
}

// Push moves a remote branch from Old to New, atomically: when the remote
// branch is no longer at Old, it returns an error wrapping ErrRemoteMoved
// and changes nothing. Network failures wrap ErrUnavailable. On success the
// mirror's view of the branch is New.
func (r *Repository) Push(ctx context.Context, req PushRequest) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	dst, tracking := "refs/heads/"+req.Branch, remoteRefsRoot+req.Branch
	if rest, ok := strings.CutPrefix(req.Ref, GitgateRefsRoot); ok {
		dst, tracking = req.Ref, gitgateTrackingRoot+rest
	} else if req.Ref != "" {
		return fmt.Errorf("pushing %s: only refs under %s or branches can be pushed", req.Ref, GitgateRefsRoot)
	}
	opts := &git.PushOptions{
		RemoteName: remoteName,
		// Without "+", go-git refuses to replace a branch that exists.
		RefSpecs: []config.RefSpec{config.RefSpec(req.New.String() + ":" + dst)},
		Auth:     r.auth,
		CABundle: r.caBundle,
	}
	if !req.Old.IsZero() {
		// Forced, but only while the remote is at Old: go-git checks the
		// advertised ref and git receive-pack re-checks it under its lock.
		opts.RefSpecs = []config.RefSpec{config.RefSpec("+" + req.New.String() + ":" + dst)}
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(req.Old.String() + ":" + dst)}
	} else if err := r.requireAbsent(ctx, dst); err != nil {
		// go-git would fast-forward an existing branch; a new branch must be new.
		return err
	}
	err := r.repo.PushContext(ctx, opts)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		msg := err.Error()
		if strings.Contains(msg, "required to be") || strings.Contains(msg, "but is absent") ||
			strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "failed to update ref") ||
			strings.Contains(msg, "cannot lock ref") || strings.Contains(msg, "fetch first") {
			return fmt.Errorf("pushing %s: %w: %w", strings.TrimPrefix(dst, "refs/heads/"), ErrRemoteMoved, err)
		}
		return fmt.Errorf("pushing %s to %s: %w: %w", strings.TrimPrefix(dst, "refs/heads/"), r.URL(), ErrUnavailable, err)
	}
	ref := plumbing.NewHashReference(plumbing.ReferenceName(tracking), req.New.plumbing())
	if err := r.repo.Storer.SetReference(ref); err != nil {
		return fmt.Errorf("recording pushed branch %s: %w", strings.TrimPrefix(dst, "refs/heads/"), err)
	}
	return nil
}
