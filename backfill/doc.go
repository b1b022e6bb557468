// Package backfill imports the history that predates a webhook: it walks
// the pages of GitHub's and GitLab's REST APIs (pulls and their reviews,
// merge requests and their approvals, deployments and their statuses,
// releases, incident issues) and stores what they say through
// delivery.Service.Import, so that metrics have a trend on the first day.
//
// An import is paginated (Link rel="next", X-Next-Page), waits out rate
// limits (Fetcher), keeps its place in a checkpoint file after every page
// stored so that a failed import resumes where it stopped, and stores
// only records that are not stored yet (Known): the records carry the keys
// the webhook parsers of packages github and gitlab give, so history
// imported after webhooks arrived, or imported twice, stores nothing
// twice. The pages are parsed by packages github and gitlab; this package
// knows which URLs to read and in which order. History from a local git
// repository is read by package git and stored the same way (Importer.Store).
package backfill
