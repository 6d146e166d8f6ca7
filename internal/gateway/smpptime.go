package gateway

import (
	"errors"
	"time"
)

var errBadTime = errors.New("not an SMPP time (YYMMDDhhmmsstnnp)")

// parseSMPPTime reads schedule_delivery_time and validity_period
// (SMPP 3.4 §7.1.1). An empty string gives the zero time. The absolute form
// "YYMMDDhhmmsstnn+" / "-" is local time with nn quarter-hours of offset
// from UTC; the relative form "YYMMDDhhmmss000R" is a period added to now.
func parseSMPPTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != 16 {
		return time.Time{}, errBadTime
	}
	var f [7]int // YY MM DD hh mm ss tnn-as-two-fields below
	for i := 0; i < 6; i++ {
		n, ok := twoDigits(s[2*i:])
		if !ok {
			return time.Time{}, errBadTime
		}
		f[i] = n
	}
	if s[12] < '0' || s[12] > '9' {
		return time.Time{}, errBadTime
	}
	tenths := int(s[12] - '0')
	nn, ok := twoDigits(s[13:])
	if !ok {
		return time.Time{}, errBadTime
	}
	switch s[15] {
	case 'R':
		// Relative: years, months, days, hours, minutes, seconds from now.
		if tenths != 0 || nn != 0 {
			return time.Time{}, errBadTime
		}
		if f[1] > 11+12*99 || f[3] > 23+24*99 || f[4] > 59+60*99 || f[5] > 59+60*99 {
			return time.Time{}, errBadTime
		}
		d := time.Duration(f[3])*time.Hour + time.Duration(f[4])*time.Minute + time.Duration(f[5])*time.Second
		return now.AddDate(f[0], f[1], f[2]).Add(d), nil
	case '+', '-':
		if nn > 48 {
			return time.Time{}, errBadTime
		}
		year, month, day := 2000+f[0], f[1], f[2]
		if month < 1 || month > 12 || day < 1 || day > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
			return time.Time{}, errBadTime
		}
		offset := nn * 15 * 60
		if s[15] == '-' {
			offset = -offset
		}
		t := time.Date(year, time.Month(month), day, f[3], f[4], f[5], tenths*int(100*time.Millisecond), time.FixedZone("", offset))
		if t.Day() != day { // 31 February and friends
			return time.Time{}, errBadTime
		}
		return t, nil
	}
	return time.Time{}, errBadTime
}

func twoDigits(s string) (int, bool) {
	if len(s) < 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// smppTime writes t in the absolute form, in UTC ("YYMMDDhhmmss000+").
func smppTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("060102150405") + "000+"
}

// parseErr reads an Appendix B err field ("001") as query_sm_resp's
// one-octet error_code.
func parseErr(s string) (uint8, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
		if n > 255 {
			return 0, false
		}
	}
	return uint8(n), len(s) > 0
}
