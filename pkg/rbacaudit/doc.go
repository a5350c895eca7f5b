// Package rbacaudit finds, in a cluster's RBAC, the subjects that can get
// around gitgate's promise that only authorized Git commits reach an
// environment: who may impersonate or act as a trusted applier (admission
// cannot tell such a request from the applier's own), edit environment
// definitions, break glass, write status, edit Flux's sources, read Git
// credentials, or edit the admission configuration itself. It also lists
// who holds gitgate's governance verbs on environments: freeze (switching
// a freeze off weakens it) and approve (approvers make up the quorum that
// lands a promotion).
//
// It works on plain RBAC objects and does no I/O; `kubectl gitgate audit`
// reads the live objects and prints the findings.
package rbacaudit
