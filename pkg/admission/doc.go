// Package admission decides whether a change to a Kubernetes object may
// bypass Git: the policy behind gitgate's validating webhook (SPEC §5).
//
// Decide is a pure function of the request, the policy and what the caller
// already knows (namespace labels, which gitgate Environment holds a Flux
// Kustomization); it makes no API call. A break-glass request comes back as
// NeedsBreakGlass, for the caller to authorize (the breakglass verb) and record.
package admission
