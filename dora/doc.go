// Package dora computes delivery metrics from changes, deployments and
// incidents: the DORA keys (deployment frequency, lead time for changes,
// change failure rate, failed-deployment recovery time, deployment rework
// rate) per service, team and overall, over any time range and bucketed by
// day, week or month, each rated against the published DORA performance levels.
// It also holds the loop's own figures for a flag linked to changes: lead time
// to customer and time to validated learning.
//
// Everything here is pure: no HTTP, no database, no clock. Webhook payloads
// are turned into Events by the github and gitlab packages; a store keeps the
// events; Compute (or NewTimeline and Timeline.Report, to answer many queries
// from one read) turns the stored records into a Report.
//
// How the records are read:
//
//   - A change is a commit that reached the repository's default branch
//     (MergedAt set). Commits pushed to other branches are kept only to date
//     the work of the pull request that later lands them (squash merges), and
//     records with the same repository and SHA (a push and a pull request
//     naming the same merge commit) are one change.
//   - A change belongs to the services whose path prefix matches one of its
//     files; with no match, or no files known, to the repository's catch-all
//     service (no prefix) or else to every service of the repository. A
//     repository missing from the Catalog is a service of its own, named after
//     it, so nothing disappears silently.
//   - A successful production deployment delivers the changes of its service
//     that landed up to the deployed commit (for a commit known only on
//     another branch, such as a hotfix, those landed before it was made; when
//     the SHA is unknown, up to the deployment time) and were not delivered
//     before: the commits between it and the previous successful deployment. A SHA
//     of 7 or more hexadecimal digits that abbreviates one change's SHA (or
//     that a change's abbreviates) names that change, as in git. Whether an environment is
//     production is an attribute of the environment, never a name match.
//   - A deployment fails when its status is a failure, when it is rolled back,
//     or when it causes an incident. An incident is linked to a deployment
//     explicitly (DeploymentID, or CauseSHA: the deployment that delivered that
//     commit) or else to the latest successful production deployment of its
//     service before it opened.
//
// Metrics documents the exact definition of every figure.
package dora
