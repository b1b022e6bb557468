package dora

import "time"

// Level is a DORA software delivery performance level; "" when there is no
// data to rate.
type Level string

// The four performance levels of the DORA research.
const (
	LevelElite  Level = "elite"
	LevelHigh   Level = "high"
	LevelMedium Level = "medium"
	LevelLow    Level = "low"
)

// Levels rates each key against the DORA performance levels. Rework rate has
// no level: the reports that introduced it (2024) published no thresholds.
type Levels struct {
	DeploymentFrequency Level `json:"deploymentFrequency,omitempty"`
	LeadTime            Level `json:"leadTime,omitempty"`
	ChangeFailureRate   Level `json:"changeFailureRate,omitempty"`
	// ChangeFailureRateFourKeys rates Metrics.ChangeFailureRateFourKeys
	// on the same thresholds.
	ChangeFailureRateFourKeys Level `json:"changeFailureRateFourKeys,omitempty"`
	RecoveryTime              Level `json:"recoveryTime,omitempty"`
}

// The thresholds come from the software delivery performance level tables of
// the DORA Accelerate State of DevOps reports (Google Cloud / DORA):
//
//	2024 report (throughput keys, used here):
//	  level   deployment frequency                      change lead time
//	  elite   on demand (multiple deploys per day)      less than one day
//	  high    between once per day and once per week    between one day and one week
//	  medium  between once per week and once per month  between one week and one month
//	  low     between once per month and once every     between one month and six months
//	          six months
//
//	2023 report (stability keys, used here):
//	  level   change failure rate   failed deployment recovery time
//	  elite   5%                    less than one hour
//	  high    10%                   less than one day
//	  medium  15%                   between one day and one week
//	  low     64%                   between one month and six months
//
// Why two years: the levels are clusters of survey answers, not cut-offs, and
// a per-key rating needs levels that are ordered on that key. The 2024
// clusters are ordered on throughput but not on stability (its medium cluster
// had a lower change fail rate, 10%, than its high cluster, 20%, and both
// recovered in less than a day), while the 2023 clusters share one throughput
// range between medium and low but are ordered on stability. So each key uses
// the most recent report whose levels are ordered on it.
//
// Reading the ranges as cut-offs: a boundary belongs to the better level where
// the report says "between" (once per day is elite, exactly one week of lead
// time is high) and to the worse level where it says "less than" (exactly one
// hour of recovery is high). A month is 30 days. A change failure rate is rated
// by the highest cluster figure it does not exceed (up to 5% elite, up to 10%
// high, up to 15% medium, above low). Values beyond the slowest range (deploying
// less than once every six months, lead time over six months, recovery between
// one week and one month, which no 2023 cluster covered) are low.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// DeploymentFrequencyLevel rates a number of successful production
// deployments per day.
func DeploymentFrequencyLevel(perDay float64) Level {
	switch {
	case perDay >= 1:
		return LevelElite
	case perDay >= 1.0/7:
		return LevelHigh
	case perDay >= 1.0/30:
		return LevelMedium
	}
	return LevelLow
}

// LeadTimeLevel rates a median lead time for changes.
func LeadTimeLevel(d time.Duration) Level {
	switch {
	case d < day:
		return LevelElite
	case d <= week:
		return LevelHigh
	case d <= month:
		return LevelMedium
	}
	return LevelLow
}

// ChangeFailureRateLevel rates a change failure rate between 0 and 1.
func ChangeFailureRateLevel(rate float64) Level {
	switch {
	case rate <= 0.05:
		return LevelElite
	case rate <= 0.10:
		return LevelHigh
	case rate <= 0.15:
		return LevelMedium
	}
	return LevelLow
}

// RecoveryTimeLevel rates a median failed-deployment recovery time.
func RecoveryTimeLevel(d time.Duration) Level {
	switch {
	case d < time.Hour:
		return LevelElite
	case d < day:
		return LevelHigh
	case d <= week:
		return LevelMedium
	}
	return LevelLow
}
