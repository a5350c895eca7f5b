package gitstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// PushRequest moves one remote ref.
type PushRequest struct {
	// Branch is the branch name, without refs/heads/.
	Branch string
	// Ref, when set, is the full name of the ref to move instead of a
	// branch, e.g. refs/gitgate/audit (see GitgateRefs).
	Ref string
	// Old is the commit the ref must be at, or ZeroHash when it must not exist.
	Old Hash
	// New is the commit to move it to: staged, or already in the mirror.
	New Hash
}

func (req PushRequest) ref() string {
	if req.Ref != "" {
		return req.Ref
	}
	return branchRefs + req.Branch
}

func (req PushRequest) name() string { return strings.TrimPrefix(req.ref(), branchRefs) }

// PushSession is one connection to the remote's receive-pack: it starts
// with the remote's refs (one advertisement), which tell whether the mirror
// is current, and then carries at most one push. Close it in every case.
type PushSession struct {
	r    *Repository
	sess transport.ReceivePackSession
	adv  *packp.AdvRefs
	refs Refs
	used bool
}

// OpenPush connects to the remote's receive-pack and reads its refs.
// Errors wrap ErrUnavailable.
func (r *Repository) OpenPush(ctx context.Context) (*PushSession, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c, ep, err := r.client()
	if err != nil {
		return nil, err
	}
	sess, err := c.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return nil, r.fail(ErrUnavailable, "connecting to "+r.URL(), err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = sess.Close()
		return nil, r.fail(ErrUnavailable, "listing the refs of "+r.URL(), err)
	}
	if !adv.Capabilities.Supports(capability.ReportStatus) {
		_ = sess.Close()
		return nil, r.fail(ErrUnavailable, r.URL(), errors.New("the server does not support report-status, so gitgate cannot tell whether a push landed"))
	}
	return &PushSession{r: r, sess: sess, adv: adv, refs: advertised(adv.References)}, nil
}

// Refs are the remote's refs when the session opened.
func (s *PushSession) Refs() Refs { return s.refs }

// Close ends the session; after a push it only releases the connection.
func (s *PushSession) Close() error { return s.sess.Close() }

// Push moves a remote ref from Old to New, atomically: when the remote ref
// is no longer at Old, it returns an error wrapping ErrRemoteMoved and
// changes nothing. It sends exactly the staged objects (the new commits and
// the trees and blobs they add), never walking history. A hook or a branch
// protection refusing the update wraps ErrRejected; network failures wrap
// ErrUnavailable. On success the staged objects join the mirror and the
// mirror's view of the ref is New.
func (s *PushSession) Push(ctx context.Context, req PushRequest) error {
	if s.used {
		return errors.New("gitstore: a push session carries one push")
	}
	s.used = true
	ctx, cancel := context.WithTimeout(ctx, s.r.timeout)
	defer cancel()
	r, dst := s.r, req.ref()
	switch cur, exists := s.refs[dst]; {
	case req.Old.IsZero() && exists:
		return &remoteError{kind: ErrRemoteMoved, msg: fmt.Sprintf("pushing %s: the ref exists already: %s", req.name(), ErrRemoteMoved)}
	case !req.Old.IsZero() && cur != req.Old:
		return &remoteError{kind: ErrRemoteMoved, msg: fmt.Sprintf("pushing %s: it is at %s, not %s: %s", req.name(), shortOrNone(cur), req.Old.Short(), ErrRemoteMoved)}
	}
	objects := r.stage
	if objects == nil {
		objects = newLayer(r.store)
	}
	if err := objects.HasEncodedObject(req.New.plumbing()); err != nil {
		return fmt.Errorf("pushing %s: commit %s is neither staged nor in the mirror: %w", req.name(), req.New.Short(), ErrCommitNotFound)
	}
	upd := packp.NewReferenceUpdateRequestFromCapabilities(s.adv.Capabilities)
	upd.Commands = []*packp.Command{{Name: plumbing.ReferenceName(dst), Old: req.Old.plumbing(), New: req.New.plumbing()}}
	pr, pw := io.Pipe()
	upd.Packfile = pr
	encoded := make(chan error, 1)
	go func() {
		// No delta search: the objects are few and new, and deltas against
		// objects the remote has would need a walk to find them.
		_, err := packfile.NewEncoder(pw, objects, false).Encode(objects.order, 0)
		encoded <- pw.CloseWithError(err)
	}()
	// With a report, its command statuses decide (go-git also returns the
	// first failed one as an error); without one, the push failed.
	report, err := s.sess.ReceivePack(ctx, upd)
	if report == nil {
		_ = pr.Close()
		if encErr := <-encoded; err == nil {
			err = encErr
		}
		return r.fail(ErrUnavailable, "pushing "+req.name()+" to "+r.URL(), err)
	}
	if err := <-encoded; err != nil {
		return fmt.Errorf("pushing %s: encoding the pack: %w", req.name(), err)
	}
	if err := r.checkReport(req, report); err != nil {
		return err
	}
	r.store.merge(objects)
	r.stage = nil
	r.store.compactSoon()
	return r.setRef(dst, req.New)
}

// checkReport reads receive-pack's report-status for req's ref.
func (r *Repository) checkReport(req PushRequest, report *packp.ReportStatus) error {
	if report == nil {
		return r.fail(ErrUnavailable, "pushing "+req.name(), errors.New("the server sent no report-status"))
	}
	if report.UnpackStatus != "ok" {
		return r.fail(ErrUnavailable, "pushing "+req.name()+" to "+r.URL(), fmt.Errorf("the server could not unpack the objects: %s", report.UnpackStatus))
	}
	for _, st := range report.CommandStatuses {
		if st.ReferenceName.String() != req.ref() {
			continue
		}
		if st.Status == "ok" {
			return nil
		}
		if movedStatus(st.Status) {
			return r.fail(ErrRemoteMoved, "pushing "+req.name(), errors.New(st.Status))
		}
		return r.fail(ErrRejected, "pushing "+req.name()+" to "+r.URL(), errors.New(st.Status))
	}
	return r.fail(ErrUnavailable, "pushing "+req.name(), errors.New("the server's report-status does not mention the ref"))
}

// movedStatus reports whether receive-pack refused an update because the
// ref is no longer where the request said (or exists already).
func movedStatus(status string) bool {
	for _, s := range []string{"stale info", "failed to lock", "cannot lock ref", "failed to update ref", "fetch first", "non-fast-forward", "already exists", "missing necessary objects", "but expected"} {
		if strings.Contains(status, s) {
			return true
		}
	}
	return false
}

func shortOrNone(h Hash) string {
	if h.IsZero() {
		return "nothing (it does not exist)"
	}
	return h.Short()
}

// Push moves a remote ref from Old to New in a session of its own; see
// PushSession.Push.
func (r *Repository) Push(ctx context.Context, req PushRequest) error {
	s, err := r.OpenPush(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Push(ctx, req)
}
