import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// A detached POSIX thread for a blocking wait (`waitpid`, a kill grace period) that must not sit
/// on Swift's cooperative pool: Foundation's `Thread.detachNewThread` without Foundation.
enum DetachedThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread; if no thread can be made (EAGAIN), on a Dispatch queue.
    static func start(_ body: @escaping @Sendable () -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        guard rc != 0 else { return }
        Unmanaged<Body>.fromOpaque(box).release()
        DispatchQueue.global().async(execute: body)
    }
}
