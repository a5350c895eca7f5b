// Package clusterstate owns what gitgate reads from, and records in, the
// cluster rather than Git: Flux Kustomizations and GitRepositories (the
// sync status of Environments and whether a Promotion was applied),
// break-glass records (the Drift condition, and the Events that record a
// confirmed break-glass change), the metadata of workload parents and
// namespaces that admission decisions read, and the Events on Promotions.
//
// Everything it reads comes from informers started once by State.Start;
// requests read memory only. The pure parts (how a Kustomization and a
// commit make a Promotion's Applied and Healthy conditions, the Drift
// condition, the Environment's sync status) are functions of values, tested
// without a cluster.
package clusterstate
