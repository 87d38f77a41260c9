using System.Text.Json;

namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// A collateral document and Intel's signature over it: ECDSA P-256 over SHA-256 of the exact bytes of the
/// "tcbInfo" or "enclaveIdentity" value as PCS sent it (r ‖ s, 64 bytes, hex). Re-serialising the JSON would change
/// those bytes, so the signed part is cut out of the file as it is.
/// </summary>
public sealed record SignedDocument(string File, ReadOnlyMemory<byte> Signed, byte[] Signature)
{
    /// <summary>From a PCS response body: {"tcbInfo": {…}, "signature": "…"} (or "enclaveIdentity").</summary>
    public static SignedDocument FromPcsBody(byte[] body, string key, string file)
    {
        var reader = new Utf8JsonReader(body);
        ReadOnlyMemory<byte>? signed = null;
        string? signature = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new EvidenceFormatException($"{file}: at byte {reader.TokenStartIndex}: not a JSON object (a PCS response with \"{key}\" and \"signature\")");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                long start = reader.TokenStartIndex;
                if (name == key && reader.TokenType == JsonTokenType.StartObject)
                {
                    reader.Skip();
                    signed = body.AsMemory((int)start, (int)(reader.BytesConsumed - start));
                }
                else if (name == "signature" && reader.TokenType == JsonTokenType.String)
                {
                    signature = reader.GetString();
                }
                else if (name is "signature" || name == key)
                {
                    throw new EvidenceFormatException($"{file}: at byte {start}: \"{name}\" is {reader.TokenType}, not {(name == key ? "an object" : "a string")}");
                }
                else
                {
                    reader.Skip();
                }
            }

            while (reader.Read())
            {
                // Reading to the end makes the reader refuse trailing bytes after the document.
            }
        }
        catch (JsonException e)
        {
            throw new EvidenceFormatException($"{file}: not JSON: {e.Message}");
        }
        catch (InvalidOperationException)
        {
            // The reader checks UTF-8 only when a string is read.
            throw new EvidenceFormatException($"{file}: at byte {reader.TokenStartIndex}: a string that is not UTF-8");
        }

        return signed is { } s
            ? new SignedDocument(file, s, ReadSignature(signature, file, "signature"))
            : throw new EvidenceFormatException($"{file}: no \"{key}\" object: not a PCS {(key == "tcbInfo" ? "TCB info" : "QE identity")} response");
    }

    /// <summary>The r ‖ s signature in hex, as PCS and dcap-qvl's collateral carry it.</summary>
    internal static byte[] ReadSignature(string? hex, string file, string field) =>
        hex is { Length: 128 } && hex.All(char.IsAsciiHexDigit)
            ? Convert.FromHexString(hex)
            : throw new EvidenceFormatException($"{file}: {field} is {(hex is null ? "missing" : $"'{(hex.Length > 20 ? hex[..20] + "…" : hex)}'")}, not a 64-byte signature in hex");
}
