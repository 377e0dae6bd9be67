//! Scoped tokens against commands that used to read or change keys outside their scope, and
//! subscriptions or blocked commands that outlived their token (issue 12 finding 2).
