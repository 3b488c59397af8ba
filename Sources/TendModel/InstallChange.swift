/// One symlink created or removed by `enable`/`disable`.
public struct InstallChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case created, removed }
    public var kind: Kind
    public var path: String
    /// What a created link points at.
    public var target: String?

    public init(kind: Kind, path: String, target: String? = nil) {
        (self.kind, self.path, self.target) = (kind, path, target)
    }

    /// systemctl's wording: `Created symlink A → B.` / `Removed "A".`
    public var message: String {
        switch kind {
        case .created: return "Created symlink \(path) → \(target ?? "?")."
        case .removed: return "Removed \"\(path)\"."
        }
    }
}
