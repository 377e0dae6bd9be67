//! Memory an attacker can make the server hold: huge replies, replay rings, MULTI queues, client
//! buffers, amplification by APPEND/SETRANGE (issue 12 findings 1, 4 and 6).
