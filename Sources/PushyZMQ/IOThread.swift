#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A dedicated OS thread for a blocking `zmq_poll` loop, kept off Swift's small cooperative
/// pool. Started from library code (a closure written in `main.swift` top-level code would be
/// inferred `@MainActor` and trap when run on another thread).
final class IOThread: Sendable {
    private let thread: pthread_t
    private let joined = Mutex(false)

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    init(_ body: @escaping @Sendable () -> Void) throws(ZMQError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        #if os(Linux)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        #else
        var created: pthread_t?
        let rc = pthread_create(&created, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, box)
        #endif
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw ZMQError(code: rc, message: "pthread_create failed")
        }
        #if os(Linux)
        self.thread = thread
        #else
        self.thread = created!
        #endif
    }

    /// True on the thread itself (where joining would deadlock).
    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }

    /// Waits for the thread to finish, once; from the thread itself it detaches instead.
    func join() {
        let first = joined.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        if isCurrent {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }
}
