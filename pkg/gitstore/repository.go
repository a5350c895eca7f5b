package gitstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// DefaultTimeout bounds every network operation that has no deadline of its own.
const DefaultTimeout = 60 * time.Second

// GitgateRefs is the namespace of non-branch references gitgate keeps on
// the remote (for example refs/gitgate/audit): the mirror fetches them
// with the branches, and PushRequest.Ref pushes one.
const GitgateRefs = "refs/gitgate/"

const (
	remoteName = "origin"
	branchRefs = "refs/heads/"
	// mirrorRefs holds the remote's refs in the mirror: refs/heads/main is
	// refs/mirror/heads/main.
	mirrorRefs = "refs/mirror/"
)

// Options configure a Repository.
type Options struct {
	// URL is the remote: https://, ssh:// (or scp-like user@host:path) or file://.
	URL string
	// Credentials authenticate to the remote.
	Credentials Credentials
	// Timeout bounds each fetch and push; zero means DefaultTimeout.
	Timeout time.Duration
	// Signer, when set, signs every commit the Repository makes.
	Signer Signer
}

// Refs maps full reference names (refs/heads/main, refs/gitgate/audit) to
// the commits they point at.
type Refs map[string]Hash

// Repository is an in-memory mirror of every branch (and of GitgateRefs)
// of one remote.
//
// Objects a write makes are staged apart from the mirror: reads see them,
// a successful Push publishes them, and Discard (or the next Fetch) drops
// them, so nothing a refused, lost or dry-run write made stays in memory.
type Repository struct {
	url      string
	auth     transport.AuthMethod
	caBundle []byte
	timeout  time.Duration
	secrets  []string
	signer   Signer

	store    *objectStore         // safe for concurrent use
	mirrored atomic.Pointer[Refs] // the mirror's refs; safe for concurrent use

	// Used by one goroutine at a time (the owner serializes them):
	fs    *fetchStorer // the mirror's refs, and what a fetch writes into
	repo  *git.Repository
	stage *layer // the current write's objects, nil when none
	// startOverSkips is how many more fetches skip starting over after
	// startOverFailures failed attempts in a row.
	startOverSkips, startOverFailures int
}

// Open makes an empty mirror of the remote in opts. It does not touch the
// network: call Fetch to fill it.
func Open(opts Options) (*Repository, error) {
	auth, err := authMethod(opts.URL, opts.Credentials)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Repository{
		url: opts.URL, auth: auth, caBundle: opts.Credentials.CAFile, timeout: timeout,
		secrets: secrets(opts.URL, opts.Credentials), signer: opts.Signer,
		store: newObjectStore(defaultStoreLimits()),
	}
	r.fs, r.repo, err = r.emptyMirror(r.store)
	if err != nil {
		return nil, err
	}
	r.mirrored.Store(&Refs{})
	return r, nil
}

// emptyMirror is a go-git repository with no refs over store, its remote
// configured.
func (r *Repository) emptyMirror(store *objectStore) (*fetchStorer, *git.Repository, error) {
	fs := newFetchStorer(published{store})
	repo, err := git.Init(fs, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("initializing in-memory repository: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{
		Name: remoteName,
		URLs: []string{r.url},
		Fetch: []config.RefSpec{
			config.RefSpec("+" + branchRefs + "*:" + mirrorRefs + "heads/*"),
			config.RefSpec("+" + GitgateRefs + "*:" + mirrorRefs + "gitgate/*"),
		},
	}); err != nil {
		return nil, nil, fmt.Errorf("configuring remote: %w", err)
	}
	return fs, repo, nil
}

// URL is the remote's URL without any user information.
func (r *Repository) URL() string { return redactURL(r.url) }

// Fetch brings every branch of the remote (and GitgateRefs) into the
// mirror, pruning refs the remote deleted, and drops anything staged. When
// a ref was deleted or rewritten, the objects no ref reaches any more are
// collected; when they are more than a quarter of the mirror, the mirror
// starts over from an empty one, which frees their memory. It returns an
// error wrapping ErrUnavailable when the remote cannot be reached.
func (r *Repository) Fetch(ctx context.Context) error {
	r.Discard()
	before := r.Refs()
	after, err := r.fetch(ctx, r.store, r.fs, r.repo)
	if err != nil {
		return err
	}
	r.mirrored.Store(&after)
	r.store.compactSoon()
	if r.rewritten(before, after, r.store.mayLinger()) {
		heads := make([]plumbing.Hash, 0, len(after))
		for _, h := range after {
			heads = append(heads, h.plumbing())
		}
		if err := r.store.collect(heads); err != nil {
			return fmt.Errorf("collecting unreachable objects: %w", err)
		}
	}
	if r.store.wasteful() {
		r.startOverWhenDue(ctx)
	}
	return nil
}

// startOverWhenDue starts over, unless earlier attempts failed lately: it
// waits twice as many fetches after each failure, up to 64. The mirror is
// complete and current either way; only the memory of the dead objects
// waits.
func (r *Repository) startOverWhenDue(ctx context.Context) {
	if r.startOverSkips > 0 {
		r.startOverSkips--
		return
	}
	if err := r.startOver(ctx); err != nil {
		r.startOverFailures = min(r.startOverFailures+1, 6)
		r.startOverSkips = 1 << r.startOverFailures
		return
	}
	r.startOverFailures = 0
}

// fetch brings what store lacks through repo (whose storer is fs), and
// returns the remote's refs.
func (r *Repository) fetch(ctx context.Context, store *objectStore, fs *fetchStorer, repo *git.Repository) (Refs, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	incoming := newLayer(store)
	fs.objects = incoming
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		Auth:       r.auth,
		CABundle:   r.caBundle,
		Prune:      true,
		Force:      true,
		Tags:       git.NoTags,
	})
	fs.objects = published{store}
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return nil, r.fail(ErrUnavailable, "fetching "+r.URL()+": the repository is empty: push an initial commit first", nil)
	default:
		return nil, r.fail(ErrUnavailable, "fetching "+r.URL(), err)
	}
	store.merge(incoming)
	return readRefs(fs)
}

// startOver fetches everything again into an empty mirror and then takes
// its objects, which frees those no ref reaches; if the fetch fails, the
// mirror stays as it was.
func (r *Repository) startOver(ctx context.Context) error {
	fresh := r.store.empty()
	fs, repo, err := r.emptyMirror(fresh)
	if err != nil {
		return err
	}
	refs, err := r.fetch(ctx, fresh, fs, repo)
	if err != nil {
		return err
	}
	r.store.adopt(fresh)
	fs.objects = published{r.store}
	r.fs, r.repo = fs, repo
	r.mirrored.Store(&refs)
	r.store.compactSoon()
	return nil
}

// rewritten reports whether a ref of before is gone from after, or moved
// to a commit that does not descend from where it was. With mayLinger, a
// deleted ref whose history joins, within landedWithin commits, the
// newest landedWithin commits the remaining refs reach (a review branch: a
// plan and its decisions on the commit it was planned on) is no rewrite:
// only its own few commits became unreachable, and they wait for the next
// collection or start-over instead of costing a walk over all of history.
// The store allows that only while what arrived since the last collect is
// small beside the mirror, so what waits stays bounded however often
// someone pushes and deletes branches.
func (r *Repository) rewritten(before, after Refs, mayLinger bool) bool {
	var recent map[Hash]bool
	for name, old := range before {
		now, ok := after[name]
		switch {
		case !ok && !mayLinger:
			return true
		case !ok:
			if recent == nil {
				recent = r.newestCommits(after, landedWithin)
			}
			if !r.joinsSoon(old, recent, landedWithin) {
				return true
			}
		case now == old:
		default:
			if ff, err := r.Published().IsAncestor(old, now); err != nil || !ff {
				return true
			}
		}
	}
	return false
}

// landedWithin bounds the commits rewritten reads for a deleted ref.
const landedWithin = 64

// newestCommits is about the n commits nearest to heads, breadth first.
func (r *Repository) newestCommits(heads Refs, n int) map[Hash]bool {
	seen := map[Hash]bool{}
	var queue []Hash
	for _, h := range heads {
		queue = append(queue, h)
	}
	for len(queue) > 0 && len(seen) < n {
		h := queue[0]
		queue = queue[1:]
		if seen[h] {
			continue
		}
		c, err := r.Published().Commit(h)
		if err != nil {
			continue
		}
		seen[h] = true
		queue = append(queue, c.Parents...)
	}
	return seen
}

// joinsSoon reports whether every line of history back from c reaches
// known within n commits.
func (r *Repository) joinsSoon(c Hash, known map[Hash]bool, n int) bool {
	seen := map[Hash]bool{}
	stack := []Hash{c}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if known[h] || seen[h] {
			continue
		}
		seen[h] = true
		if len(seen) > n {
			return false
		}
		cm, err := r.Published().Commit(h)
		if err != nil || len(cm.Parents) == 0 {
			return false
		}
		stack = append(stack, cm.Parents...)
	}
	return true
}

// readRefs lists the remote's refs as the mirror fs holds them.
func readRefs(fs *fetchStorer) (Refs, error) {
	iter, err := fs.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("listing references: %w", err)
	}
	refs := Refs{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(name, mirrorRefs) {
			refs["refs/"+strings.TrimPrefix(name, mirrorRefs)] = fromPlumbing(ref.Hash())
		}
		return nil
	})
	return refs, err
}

// setRef records that the remote's ref is now at h.
func (r *Repository) setRef(name string, h Hash) error {
	local := plumbing.ReferenceName(mirrorRefs + strings.TrimPrefix(name, "refs/"))
	if err := r.fs.SetReference(plumbing.NewHashReference(local, h.plumbing())); err != nil {
		return fmt.Errorf("recording pushed ref %s: %w", name, err)
	}
	refs := Refs{}
	for k, v := range r.Refs() {
		refs[k] = v
	}
	refs[name] = h
	r.mirrored.Store(&refs)
	return nil
}

// Refs returns the remote's refs as of the last Fetch or Push: every
// branch and every ref under GitgateRefs. It is safe for concurrent use;
// the map must not be changed.
func (r *Repository) Refs() Refs { return *r.mirrored.Load() }

// Branches returns the head of every remote branch as of the last Fetch or Push.
func (r *Repository) Branches() (map[string]Hash, error) {
	heads := map[string]Hash{}
	for name, h := range r.Refs() {
		if b, ok := strings.CutPrefix(name, branchRefs); ok {
			heads[b] = h
		}
	}
	return heads, nil
}

// mirroredRef reports whether the mirror keeps a remote ref.
func mirroredRef(name string) bool {
	return strings.HasPrefix(name, branchRefs) || strings.HasPrefix(name, GitgateRefs)
}

// Current reports whether refs (from ListRefs or a PushSession) are what
// the mirror holds, so that no fetch is needed. It is safe for concurrent use.
func (r *Repository) Current(refs Refs) bool {
	mine := r.Refs()
	if len(mine) != len(refs) {
		return false
	}
	for name, h := range refs {
		if mine[name] != h {
			return false
		}
	}
	return true
}

// ListRefs asks the remote for its refs (one ref advertisement, the
// cost of `git ls-remote`), those the mirror keeps. It touches nothing in
// the mirror and is safe for concurrent use. Errors wrap ErrUnavailable.
func (r *Repository) ListRefs(ctx context.Context) (Refs, error) {
	c, ep, err := r.client()
	if err != nil {
		return nil, err
	}
	sess, err := c.NewUploadPackSession(ep, r.auth)
	if err != nil {
		return nil, r.fail(ErrUnavailable, "listing the refs of "+r.URL(), err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return Refs{}, nil
	}
	if err != nil {
		return nil, r.fail(ErrUnavailable, "listing the refs of "+r.URL(), err)
	}
	return advertised(adv.References), nil
}

func advertised(refs map[string]plumbing.Hash) Refs {
	out := Refs{}
	for name, h := range refs {
		if mirroredRef(name) {
			out[name] = fromPlumbing(h)
		}
	}
	return out
}

// client is the transport for the remote's URL.
func (r *Repository) client() (transport.Transport, *transport.Endpoint, error) {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return nil, nil, r.fail(ErrUnavailable, "repository URL "+r.URL(), err)
	}
	ep.CaBundle = r.caBundle
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, r.fail(ErrUnavailable, "repository URL "+r.URL(), err)
	}
	return c, ep, nil
}

// Discard drops every object staged since the last Push or Discard.
func (r *Repository) Discard() { r.stage = nil }

// Staged is the number of objects staged and not pushed yet.
func (r *Repository) Staged() int {
	if r.stage == nil {
		return 0
	}
	return len(r.stage.objects)
}

// Objects is the number of objects in the mirror, staged ones left out.
func (r *Repository) Objects() int { return r.store.len() }
