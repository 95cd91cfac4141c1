import Foundation
import TesseraCore

/// Ctrl Hub's JSON:API documents (`application/vnd.api+json`, JSON:API 1.0).
extension CtrlHubRoutes {
    struct Document: Encodable {
        let data: Resource
        let jsonapi = ["version": "1.0"]
    }

    /// A page of the collection, with Ctrl Hub's `meta.pagination` and JSON:API `links`.
    struct ListDocument: Encodable {
        let data: [Resource]
        let meta: ListMeta
        let links: Links
        let jsonapi = ["version": "1.0"]
    }

    struct ListMeta: Encodable {
        struct Pagination: Encodable {
            struct Counts: Encodable {
                let resources: Int
                let pages: Int
            }

            struct Offsets: Encodable {
                @Nullable var next: Int?
                @Nullable var previous: Int?
            }

            struct Requested: Encodable {
                let limit: Int
                let offset: Int
            }

            let counts: Counts
            let currentPage: Int
            let offsets: Offsets
            let requested: Requested

            enum CodingKeys: String, CodingKey {
                case counts, offsets, requested
                case currentPage = "current_page"
            }
        }

        let pagination: Pagination
    }

    struct Links: Encodable {
        let current: String
        @Nullable var next: String?
        @Nullable var previous: String?
    }

    /// A key as a resource of its own (create, change).
    struct KeyDocument: Encodable {
        struct KeyResource: Encodable {
            struct Attributes: Encodable {
                let clientID: String
                let clientSecret: String?
                let enabled: Bool
                let createdAt: Date

                enum CodingKeys: String, CodingKey {
                    case enabled
                    case clientID = "client_id"
                    case clientSecret = "client_secret"
                    case createdAt = "created_at"
                }
            }

            let id: String
            let type = CtrlHubRoutes.keyType
            let attributes: Attributes

            init(_ secret: ClientSecret, account: ServiceAccount, secret value: String? = nil) {
                id = secret.id.lowercased
                attributes = .init(clientID: account.clientID, clientSecret: value, enabled: secret.enabled, createdAt: secret.createdAt)
            }
        }

        let data: KeyResource
        let jsonapi = ["version": "1.0"]
    }

    struct Resource: Encodable {
        struct Attributes: Encodable {
            let name: String
            let description: String?
            let email: String
            let enabled: Bool
            let keys: [Key]
        }

        /// A key inside the account: the secret's id (what a client authenticates
        /// with), the account's `client_id` (which works too), and the secret only
        /// when it was just made.
        struct Key: Encodable {
            let id: String
            let clientID: String
            let clientSecret: String?
            let enabled: Bool
            let createdAt: Date

            init(_ secret: ClientSecret, account: ServiceAccount, secret value: String?) {
                id = secret.id.lowercased
                clientID = account.clientID
                clientSecret = value
                enabled = secret.enabled
                createdAt = secret.createdAt
            }

            enum CodingKeys: String, CodingKey {
                case id, enabled
                case clientID = "client_id"
                case clientSecret = "client_secret"
                case createdAt = "created_at"
            }
        }

        struct Meta: Encodable {
            let createdAt: Date
            let updatedAt: Date

            enum CodingKeys: String, CodingKey {
                case createdAt = "created_at"
                case updatedAt = "updated_at"
            }
        }

        struct Identifier: Encodable {
            let id: String
            let type: String
        }

        struct Relationship: Encodable {
            let data: [Identifier]
        }

        let id: String
        let type = CtrlHubRoutes.resourceType
        let attributes: Attributes
        let meta: Meta
        let relationships: [String: Relationship]
    }

    struct Errors: Encodable {
        struct Item: Encodable {
            /// JSON:API's error source: a JSON pointer into the body, or a parameter.
            struct Source: Encodable {
                var pointer: String?
                var parameter: String?
            }

            let id: String
            let status: String
            let title: String
            let detail: String
            let code: String?
            let source: Source?
        }

        let errors: [Item]
    }
}
