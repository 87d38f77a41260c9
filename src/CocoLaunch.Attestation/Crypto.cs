using System.Security.Cryptography;

namespace CocoLaunch.Attestation;

/// <summary>
/// Runs one cryptographic operation on evidence bytes. Keys and signatures in evidence come from outside: OpenSSL
/// rejects a malformed one ("point is not on curve", "decode error") by throwing, and a verifier must report that
/// as a failed check by name, not let it escape as an internal error.
/// </summary>
internal static class Crypto
{
    public static T? Attempt<T>(Func<T?> operation, out string? error)
        where T : class
    {
        try
        {
            error = null;
            return operation();
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException)
        {
            error = e.Message.TrimEnd('.');
            return null;
        }
    }

    public static bool Attempt(Func<bool> check, out string? error)
    {
        try
        {
            error = null;
            return check();
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException)
        {
            error = e.Message.TrimEnd('.');
            return false;
        }
    }
}
