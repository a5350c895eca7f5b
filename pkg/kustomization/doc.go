// Package kustomization reads and edits the images of a kustomize
// kustomization.yaml, and renders overlays to find the images they run.
//
// Edits are byte-exact splices into the original text: comments, key order,
// indentation and Flux image-policy setter markers
// (# {"$imagepolicy": "ns:name"}) stay as they were; only changed values move.
package kustomization
