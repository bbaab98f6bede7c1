import PushyCLI

/// The `pushy` executable: everything, parsing included, lives in `PushyCLI` (tested there).
@main
enum PushyMain {
    static func main() async {
        await Pushy.main()
    }
}
