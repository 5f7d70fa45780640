// `outpost passwd`: creates and edits mosquitto-format password files, with the flags,
// behaviour and exit codes of mosquitto 2's mosquitto_passwd, so the two tools and the two
// brokers share one file:
//   outpost passwd [-H sha512 | -H sha512-pbkdf2] [-I ITERATIONS] [-c | -D] FILE USER
//   outpost passwd [-H sha512 | -H sha512-pbkdf2] [-I ITERATIONS] [-c] -b FILE USER PASSWORD
//   outpost passwd -U FILE
// Runs on the main thread before anything else is started; it blocks on the terminal.
#pragma once

#include <iosfwd>

namespace outpost::auth {

// argv[0] is "passwd". Without -b the password is read twice from `in` after the prompts
// "Password: " and "Reenter password: " on `out`; when `in` is std::cin on a terminal, echo is
// off while it is typed. Returns the exit code: 0 done, 1 error (message on `err`, usage on
// `out`), 2 the two passwords typed differ (as mosquitto_passwd).
int passwd_main(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace outpost::auth
