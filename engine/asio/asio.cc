// The non-template parts of Boost.Asio (with its SSL support) and Boost.Beast
// (its parser, WebSocket handshake and permessage-deflate code among them),
// compiled once here rather than inline in every file that includes them.
// The whole build defines BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION (the top CMakeLists.txt); each target that
// uses Asio or Beast links banshi_asio.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
