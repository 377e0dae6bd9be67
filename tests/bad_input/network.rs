//! Unauthenticated and slow clients on every listener: pre-auth limits, slowloris, handshakes,
//! backlog, and the small protocol findings (issue 12 findings 3, 5 and 7).
