import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the peer's address, which the audit log records.
struct PushyRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP peer (a proxy's address when the server sits behind one).
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
