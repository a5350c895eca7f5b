// Package sealing seals Secrets for the Bitnami Sealed Secrets controller and
// checks the SealedSecrets that reach gitgate. Sealing happens on the client
// with the controller's public certificate; the server only ever sees
// ciphertext, and nothing here holds a private key.
package sealing
