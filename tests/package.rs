//! The Debian package, built as the README says (`cargo deb`): its files,
//! their modes and conffiles, its maintainer scripts, its systemd unit
//! (`systemd-analyze verify` and `security`), and `check-config` of the
//! packaged binary on the shipped configuration.
//!
//! A test target of its own, so cargo runs it after the others and its
//! build does not compete with them. Without cargo-deb, dpkg-deb or
//! systemd-analyze it is skipped with a message, except in CI (`.ci/run`
//! installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether each tool runs; in CI a missing one fails the test.
fn tools_present() -> bool {
    let missing: Vec<&str> = [
        ("cargo", &["deb", "--version"][..]),
        ("dpkg-deb", &["--version"][..]),
        ("systemd-analyze", &["--version"][..]),
    ]
    .into_iter()
    .filter(|(cmd, args)| {
        !Command::new(cmd)
            .args(*args)
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .map(|(cmd, _)| if cmd == "cargo" { "cargo-deb" } else { cmd })
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have {missing:?} (.ci/run installs them)"
    );
    eprintln!(
        "SKIPPED the_debian_package_builds_and_its_unit_verifies: missing {missing:?} \
         (cargo install cargo-deb; apt-get install dpkg systemd)"
    );
    false
}

/// `systemd-analyze --root` needs the system's own units (sysinit.target,
/// …) beside the package's, and a /tmp.
fn verification_root(extracted: &Path) {
    let units = extracted.join("usr/lib/systemd/system");
    for entry in std::fs::read_dir("/usr/lib/systemd/system").unwrap() {
        let entry = entry.unwrap();
        let to = units.join(entry.file_name());
        if !to.exists() && entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
    std::fs::create_dir_all(extracted.join("tmp")).unwrap();
}

#[test]
fn the_debian_package_builds_and_its_unit_verifies() {
    if !tools_present() {
        return;
    }
    let out_dir = root().join("target/package-test");
    let _ = std::fs::remove_dir_all(&out_dir);
    let built = run("cargo", &["deb", "--output", out_dir.to_str().unwrap()]);
    assert!(
        built.status.success(),
        "cargo deb failed:\n{}",
        text(&built)
    );
    let version = env!("CARGO_PKG_VERSION");
    let deb = out_dir.join(format!("statuspage-bridge_{version}-1_amd64.deb"));
    assert!(deb.is_file(), "{}", text(&built));
    let deb = deb.to_str().unwrap();

    // Control fields.
    let fields = text(&run(
        "dpkg-deb",
        &["-f", deb, "Package", "Version", "Depends", "Section"],
    ));
    assert!(fields.contains("Package: statuspage-bridge"), "{fields}");
    assert!(
        fields.contains(&format!("Version: {version}-1")),
        "{fields}"
    );
    assert!(
        fields.contains("adduser") && fields.contains("libc6"),
        "{fields}"
    );

    // Files, with their modes.
    let listing = text(&run("dpkg-deb", &["-c", deb]));
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/statuspage-bridge"),
        ("-rw-r-----", "./etc/statuspage-bridge/config.toml"),
        ("-rw-------", "./etc/default/statuspage-bridge"),
        (
            "-rw-r--r--",
            "./usr/lib/systemd/system/statuspage-bridge.service",
        ),
        ("-rw-r--r--", "./usr/share/doc/statuspage-bridge/README.md"),
        // The docs the README links, beside it.
        (
            "-rw-r--r--",
            "./usr/share/doc/statuspage-bridge/docs/OPERATING.md",
        ),
        (
            "-rw-r--r--",
            "./usr/share/doc/statuspage-bridge/docs/SCHEMA.md",
        ),
        (
            "-rw-r--r--",
            "./usr/share/doc/statuspage-bridge/static/screenshots/events.png",
        ),
        (
            "-rw-r--r--",
            "./usr/share/doc/statuspage-bridge/packaging/prometheus/alerts.yml",
        ),
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path)),
            "{mode} {path} not in:\n{listing}"
        );
    }

    // Conffiles and maintainer scripts.
    let control = tempfile::tempdir().unwrap();
    let c = control.path().to_str().unwrap();
    assert!(run("dpkg-deb", &["-e", deb, c]).status.success());
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        [
            "/etc/statuspage-bridge/config.toml",
            "/etc/default/statuspage-bridge"
        ]
    );
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    for needed in [
        "adduser --system --group",
        "install -d -o \"$USER\" -g \"$USER\" -m 0750 /var/lib/statuspage-bridge",
        "deb-systemd-helper",
    ] {
        assert!(postinst.contains(needed), "postinst lacks {needed:?}");
    }
    assert!(
        !postinst.contains("#DEBHELPER#"),
        "systemd snippets filled in"
    );
    let sh = run(
        "sh",
        &["-n", control.path().join("postinst").to_str().unwrap()],
    );
    assert!(sh.status.success(), "postinst: {}", text(&sh));

    // The unit, read from the package.
    let extracted = tempfile::tempdir().unwrap();
    let x = extracted.path();
    assert!(
        run("dpkg-deb", &["-x", deb, x.to_str().unwrap()])
            .status
            .success()
    );
    let unit_path = x.join("usr/lib/systemd/system/statuspage-bridge.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for line in [
        "User=statuspage-bridge",
        "StateDirectory=statuspage-bridge",
        "ExecStart=/usr/bin/statuspage-bridge --config /etc/statuspage-bridge/config.toml serve",
        "Restart=on-failure",
        "EnvironmentFile=-/etc/default/statuspage-bridge",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}");
    }
    verification_root(x);
    let verify = run(
        "systemd-analyze",
        &[
            "verify",
            &format!("--root={}", x.display()),
            unit_path.to_str().unwrap(),
        ],
    );
    assert!(
        verify.status.success() && text(&verify).trim().is_empty(),
        "systemd-analyze verify:\n{}",
        text(&verify)
    );
    let security = text(&run(
        "systemd-analyze",
        &[
            "security",
            "--offline=yes",
            &format!("--root={}", x.display()),
            unit_path.to_str().unwrap(),
        ],
    ));
    let exposure: f64 = security
        .split("Overall exposure level for statuspage-bridge.service: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{security}");

    // The packaged binary accepts the shipped configuration.
    let bin = x.join("usr/bin/statuspage-bridge");
    let config = x.join("etc/statuspage-bridge/config.toml");
    let check = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .env_remove("ITOC360_TOKEN")
        .env_remove("BRIDGE_DATABASE")
        .env_remove("BRIDGE_LISTEN")
        .output()
        .unwrap();
    let out = text(&check);
    assert!(check.status.success(), "{out}");
    assert!(out.starts_with("ok\n"), "{out}");
    for line in [
        "listen: 127.0.0.1:8080",
        "database: /var/lib/statuspage-bridge/statuspage-bridge.db",
        "itoc360: dry run",
    ] {
        assert!(out.contains(line), "{line} not in:\n{out}");
    }
    let v = text(&run(bin.to_str().unwrap(), &["--version"]));
    assert_eq!(v.trim(), format!("statuspage-bridge {version}"));
}
