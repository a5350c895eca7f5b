// Package ui is `kubectl gitgate ui`: a web page of a namespace's
// environments as a pipeline, served on loopback by the user's own kubectl
// plugin and acting with the user's own kubeconfig credentials.
//
// Nothing runs in the cluster. The server binds a loopback address only,
// answers only requests whose path starts with a random token and whose
// Host and Origin are its own (against other local users, cross-site
// requests and DNS rebinding), and forwards to the cluster only the few
// requests the page needs: gitgate environments and promotions (get, list,
// watch, create), and the user's own access reviews. It is not a general
// proxy: everything else is refused before it leaves the machine.
package ui
