// A C++ program for the uprobe cases of the `cpp:` qualifier (tests/scripts/current/uprobe/
// cpp_*.toml): it calls MyApp::Server::handle_request(7) and MyApp::Server::close(9) once
// each, then exits 0. Both are members, so `this` is arg0 and the int is arg1.
namespace MyApp {
class Server {
  public:
    int handle_request(int fd);
    int close(int fd);
};

__attribute__((noinline)) int Server::handle_request(int fd) {
    __asm__ volatile("");
    return fd + 1;
}

__attribute__((noinline)) int Server::close(int fd) {
    __asm__ volatile("");
    return fd - 1;
}
} // namespace MyApp

int main() {
    MyApp::Server s;
    s.handle_request(7);
    s.close(9);
    return 0;
}
